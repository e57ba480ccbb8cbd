// layout.mjs - functions ui_check.mjs runs INSIDE the ComfyUI page (page.evaluate): they must stay self-contained
// (no imports, no module variables). They read what the frontend itself computed: node boxes (LGraphNode.boundingRect,
// title bar included), the smallest size the node's widgets and previews need (LGraphNode.computeSize()), the canvas
// view (app.canvas.ds) and the canvas element's place on the screen.

// Redraw the canvas and every node's background a few times: ComfyUI creates image/video previews lazily while a
// node is drawn (onDrawBackground), and images load asynchronously.
export async function waitForMedia(rounds = 8) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const ctx = app.canvas.canvas.getContext('2d');
  for (let i = 0; i < rounds; i++) {
    for (const n of app.graph.nodes) {
      try { n.onDrawBackground?.(ctx, app.canvas); } catch { /* a node that cannot draw off-screen */ }
    }
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
    await sleep(250);
  }
}

// Show every output preview as after a run, through ComfyUI's own path: the `executed` websocket message
// (node output store + node.onExecuted). Images show MEDIA.image, videos MEDIA.video (both files in input/).
export async function showPreviews(media) {
  const api = window.comfyAPI?.api?.api ?? app.api;
  const VIDEO = new Set(['SaveVideo', 'PlaymateRenderVideo', 'PlaymateDubVideo', 'SaveWEBM', 'SaveAnimatedWEBP']);
  const IMAGE = new Set(['PreviewImage', 'SaveImage', 'PlaymateMotionPreview', 'PlaymateExpressionEdit']);
  for (const n of app.graph.nodes) {
    const def = LiteGraph.registered_node_types[n.type]?.nodeData;
    if (!def?.output_node && !IMAGE.has(n.type) && !VIDEO.has(n.type)) continue;
    let output;
    if (VIDEO.has(n.type) || (def?.output || []).includes('VIDEO')) {
      output = { images: [{ filename: media.video, subfolder: '', type: 'input', format: 'video/h264-mp4' }],
        animated: [true] };
    } else if (IMAGE.has(n.type) || (def?.output || []).includes('IMAGE')) {
      output = { images: [{ filename: media.image, subfolder: '', type: 'input' }] };
    } else {
      output = { text: ['(simulated output)\nsecond line\nthird line'] };
    }
    api.dispatchCustomEvent('executed', { node: String(n.id), display_node: String(n.id), output, prompt_id: 'layout-check' });
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const ctx = app.canvas.canvas.getContext('2d');
  for (let i = 0; i < 10; i++) {
    for (const n of app.graph.nodes) {
      try { n.onDrawBackground?.(ctx, app.canvas); } catch { /* as above */ }
    }
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
    await sleep(300);
  }
}

// Node boxes, overlaps (groups excluded), nodes smaller than their contents, notes, and the view: every node box
// mapped through the canvas view (screen = (graph + ds.offset) * ds.scale) must lie inside the canvas element's part
// of the window.
export function layoutReport() {
  const ds = app.canvas.ds;
  const el = app.canvas.canvas;
  const r = el.getBoundingClientRect();
  const view = { left: Math.max(r.left, 0), top: Math.max(r.top, 0),
    right: Math.min(r.right, window.innerWidth), bottom: Math.min(r.bottom, window.innerHeight) };
  const nodes = app.graph.nodes.map((n) => {
    const b = n.boundingRect;
    const min = n.computeSize();
    const box = [b[0], b[1], b[2], b[3]];
    const screen = [r.left + (box[0] + ds.offset[0]) * ds.scale, r.top + (box[1] + ds.offset[1]) * ds.scale,
      box[2] * ds.scale, box[3] * ds.scale];
    // DOM widgets (video/audio players, text areas) as laid out on the page, in graph units from the node's pos
    let content = [0, 0];
    for (const w of n.widgets || []) {
      const e = w.element;
      if (!e || !e.isConnected || e.offsetParent === null) continue;
      const q = e.getBoundingClientRect();
      if (q.width < 1 || q.height < 1) continue;
      content = [Math.max(content[0], (q.right - r.left) / ds.scale - ds.offset[0] - n.pos[0]),
        Math.max(content[1], (q.bottom - r.top) / ds.scale - ds.offset[1] - n.pos[1])];
    }
    return { id: n.id, type: n.type, title: n.title, box, screen, size: [n.size[0], n.size[1]],
      min_size: [Math.ceil(min[0]), Math.ceil(min[1])], content: content.map(Math.ceil),
      dom: (n.widgets || []).some((w) => w.element), widgets: (n.widgets || []).map((w) => w.name) };
  });
  const overlaps = [];
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const [a, b] = [nodes[i].box, nodes[j].box];
      const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
      const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
      if (w > 0.5 && h > 0.5) overlaps.push([nodes[i].id, nodes[j].id, Math.round(w), Math.round(h)]);
    }
  }
  // Too small: canvas-drawn contents (widgets, image previews: LGraphNode.computeSize) or DOM widgets (their element
  // on the page) reach past the node's box. computeSize of a node with DOM widgets grows with the node itself, so
  // those nodes are judged by their elements.
  const tooSmall = nodes.filter((n) => (n.dom ? n.content[0] > n.size[0] + 2 || n.content[1] > n.size[1] + 2
    : n.size[0] + 0.5 < n.min_size[0] || n.size[1] + 0.5 < n.min_size[1]))
    .map((n) => ({ id: n.id, type: n.type, size: n.size, min_size: n.min_size, content: n.content }));
  const offView = nodes.filter((n) => n.screen[0] < view.left - 0.5 || n.screen[1] < view.top - 0.5
    || n.screen[0] + n.screen[2] > view.right + 0.5 || n.screen[1] + n.screen[3] > view.bottom + 0.5)
    .map((n) => ({ id: n.id, type: n.type, screen: n.screen.map(Math.round) }));
  // Covered: a point of a node box (every 24 px) where the page shows something else than the canvas or a node's
  // own DOM widget: the side bar, tab bar, floating title / run bar, minimap, zoom buttons...
  const own = app.graph.nodes.flatMap((n) => (n.widgets || []).map((w) => w.element).filter(Boolean));
  const covered = [];
  for (const n of nodes) {
    const [x, y, w, h] = n.screen;
    let by = null;
    for (let px = x + 2; px <= x + w - 2 && !by; px += Math.max(8, Math.min(24, (w - 4) / 2))) {
      for (let py = y + 2; py <= y + h - 2 && !by; py += Math.max(8, Math.min(24, (h - 4) / 2))) {
        if (px < 0 || py < 0 || px >= innerWidth || py >= innerHeight) continue;
        const hit = document.elementFromPoint(px, py);
        if (!hit || hit === el || own.some((d) => d.contains(hit) || hit.contains(d))) continue;
        by = `${hit.tagName.toLowerCase()}.${String(hit.className).split(' ')[0]} at ${Math.round(px)},${Math.round(py)}`;
      }
    }
    if (by) covered.push({ id: n.id, type: n.type, by });
  }
  const groups = (app.graph.groups || app.graph._groups || []).map((g) => ({ title: g.title,
    bounding: [...g._bounding ?? g.bounding] }));
  const notes = nodes.filter((n) => n.type === 'Note' || n.type === 'MarkdownNote');
  return { ds: { scale: ds.scale, offset: [ds.offset[0], ds.offset[1]] }, view, window: [innerWidth, innerHeight],
    nodes, overlaps, too_small: tooSmall, off_view: offView, covered, groups, notes: notes.length,
    note_text: notes.map((n) => { const w = app.graph.getNodeById(n.id)?.widgets?.[0];
      return String(w?.element?.value || w?.value || ''); }) };
}
