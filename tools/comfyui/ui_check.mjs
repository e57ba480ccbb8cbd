// ui_check.mjs - drive the real ComfyUI web UI in headless Debian Chromium (playwright-core, no browser download).
//
//   node tools/comfyui/ui_check.mjs check [--json OUT.json] [--api-dir DIR] [--shot-dir DIR] [--templates PACK]
//        WORKFLOW.json...
//        load each workflow (UI or API format) into the page; report missing node types, page errors and the
//        node count after loading; the layout as the frontend draws it (layout.mjs: node boxes, overlaps, nodes
//        smaller than their contents, notes, the view on open against the canvas); with --api-dir also write each
//        one as the UI would queue it (app.graphToPrompt) to DIR/<name>_api.json; with --shot-dir a screenshot on
//        open (<name>.png) and one with every output preview shown (<name>.previews.png); with --templates PACK
//        fetch the pack's template list and each template's .json and .jpg the way the Templates browser does.
//        Previews are shown by replaying ComfyUI's own `executed` message with SAMPLE_IMAGE / SAMPLE_VIDEO
//        (input files, default face.png / driving.mp4). Exit 3 when any workflow has missing node types.
//   node tools/comfyui/ui_check.mjs api2ui [--sizes SIZES.json] API.json OUT_UI.json [API2.json OUT2.json ...]
//        API -> UI format (app.loadApiJson, auto-arranged; seeds 'control after generate: fixed'); --sizes writes
//        {OUT: {node id: [w, h]}}: the smallest size the frontend gives each node with its previews shown
//   node tools/comfyui/ui_check.mjs ui2api UI.json OUT_API.json   UI -> API format (app.graphToPrompt)
//   node tools/comfyui/ui_check.mjs shot OUT.png [WORKFLOW.json]  screenshot of the UI (with a workflow loaded)
//
// Env: COMFY_URL (default http://127.0.0.1:8188), CHROMIUM (default /usr/bin/chromium), UI_TIMEOUT_MS (90000),
//      SAMPLE_IMAGE, SAMPLE_VIDEO (input files shown as simulated outputs).
// playwright-core comes from tools/comfyui/node_modules (npm install --prefix tools/comfyui) or PLAYWRIGHT_CORE_DIR.
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { fileURLToPath } from 'url';
import { layoutReport, showPreviews, waitForMedia } from './layout.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const base = (process.env.COMFY_URL || 'http://127.0.0.1:8188').replace(/\/$/, '');
const uiTimeout = Number(process.env.UI_TIMEOUT_MS || 90000);

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node ui_check.mjs check [--json OUT] [--api-dir DIR] [--shot-dir DIR] [--templates PACK] WF.json... | '
    + 'api2ui [--sizes OUT.json] API.json OUT.json [...] | ui2api UI.json OUT.json | shot OUT.png [WF.json]');
  process.exit(2);
}

function loadPlaywright() {
  const dirs = [process.env.PLAYWRIGHT_CORE_DIR, HERE, process.cwd()].filter(Boolean);
  for (const dir of dirs) {
    try { return createRequire(path.join(path.resolve(dir), 'noop.js'))('playwright-core'); } catch { /* next */ }
  }
  console.error(`playwright-core not found (looked in ${dirs.join(', ')}): run "npm install --prefix tools/comfyui"`);
  process.exit(2);
}

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));
const isApi = (wf) => wf && typeof wf === 'object' && !Array.isArray(wf.nodes)
  && Object.values(wf).length > 0 && Object.values(wf).every((n) => n && typeof n === 'object' && n.class_type);

// node types a UI-format workflow uses (subgraph instances excluded; their inner nodes included)
function uiTypes(wf) {
  const subIds = new Set((wf.definitions?.subgraphs || []).map((s) => s.id));
  const types = [];
  for (const n of wf.nodes || []) if (!subIds.has(n.type)) types.push(n.type);
  for (const s of wf.definitions?.subgraphs || []) for (const n of s.nodes || []) if (!subIds.has(n.type)) types.push(n.type);
  return types;
}

// In the page: the pack's entries of GET /workflow_templates and, for each, the .json and .jpg fetched from the URLs
// the Templates browser builds (api.apiURL('/workflow_templates/<pack>/<name>') + '.json' / '.jpg').
async function templateReport(pack) {
  const api = window.comfyAPI?.api?.api ?? app.api;
  const names = (await (await api.fetchApi('/workflow_templates')).json())[pack] || [];
  const out = {};
  for (const name of names) {
    const url = api.apiURL(`/workflow_templates/${pack}/${name}`);
    const js = await fetch(url + '.json');
    const img = new Image();
    const size = await new Promise((res) => {
      img.onload = () => res([img.naturalWidth, img.naturalHeight]);
      img.onerror = () => res(null);
      img.src = url + '.jpg';
    });
    out[name] = { json: js.status, nodes: js.ok ? ((await js.json()).nodes || []).length : 0, jpg: size };
  }
  return out;
}

const [cmd, ...rest] = process.argv.slice(2);
if (!['check', 'api2ui', 'ui2api', 'shot'].includes(cmd)) usage();
const opts = { json: null, apiDir: null, shotDir: null, templates: null, sizes: null };
const files = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--json') opts.json = rest[++i];
  else if (rest[i] === '--api-dir') opts.apiDir = rest[++i];
  else if (rest[i] === '--shot-dir') opts.shotDir = rest[++i];
  else if (rest[i] === '--templates') opts.templates = rest[++i];
  else if (rest[i] === '--sizes') opts.sizes = rest[++i];
  else files.push(rest[i]);
}
if (cmd === 'check' && !files.length) usage('check: no workflow given');
if (cmd === 'ui2api' && files.length !== 2) usage('ui2api: needs IN.json OUT.json');
if (cmd === 'api2ui' && (!files.length || files.length % 2)) usage('api2ui: needs pairs of API.json OUT.json');
const media = { image: process.env.SAMPLE_IMAGE || 'face.png', video: process.env.SAMPLE_VIDEO || 'driving.mp4' };
if (cmd === 'shot' && !files.length) usage('shot: needs OUT.png');

const { chromium } = loadPlaywright();
const t0 = Date.now();
// No first-run templates dialog (a server-side user setting).
await fetch(base + '/settings/Comfy.TutorialCompleted', { method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: 'true' }).catch((e) => { console.error(`server ${base} unreachable: ${e.message}`); process.exit(4); });

const udd = fs.mkdtempSync(path.join(os.tmpdir(), 'playmate-ui-'));
const ctx = await chromium.launchPersistentContext(udd, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let rc = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(base + '/', { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.app?.graph && window.LiteGraph?.registered_node_types?.LoadImage,
    null, { timeout: uiTimeout });
  const uiReadyMs = Date.now() - t0;

  // Load UI or API JSON the way the UI does; returns {missing, nodes} (missing: node types the UI does not know).
  const load = (wf) => page.evaluate(async ({ wf, api, types }) => {
    const missing = types.filter((t) => !LiteGraph.registered_node_types[t]);
    const orig = app.showMissingNodesError;
    app.showMissingNodesError = (m) => {
      for (const x of m || []) missing.push(typeof x === 'string' ? x : (x?.type ?? x?.class_type ?? String(x)));
    };
    try {
      app.clean?.();                       // drop the previous workflow's outputs and previews (kept by node id)
      if (api) app.loadApiJson(wf, 'workflow.json');
      else await app.loadGraphData(wf, true, true, null);
    } finally { app.showMissingNodesError = orig; }
    await new Promise((r) => setTimeout(r, 200));
    return { missing: [...new Set(missing)], nodes: app.graph.nodes?.length ?? app.graph._nodes?.length ?? 0 };
  }, { wf, api: isApi(wf), types: isApi(wf) ? Object.values(wf).map((n) => n.class_type) : uiTypes(wf) });
  const toApi = () => page.evaluate(async () => (await app.graphToPrompt()).output);

  if (cmd === 'check') {
    const report = { url: base, ui_ready_ms: uiReadyMs, workflows: {} };
    if (opts.templates) report.templates = await page.evaluate(templateReport, opts.templates);
    for (const f of files) {
      const errsBefore = pageErrors.length;
      const wf = readJson(f);
      const r = await load(wf);
      const entry = { format: isApi(wf) ? 'api' : 'ui', missing: r.missing, nodes_loaded: r.nodes };
      const stem = path.basename(f, '.json');
      await page.evaluate(waitForMedia);
      entry.on_open = await page.evaluate(layoutReport);            // the view as saved in the file
      if (opts.shotDir) {
        fs.mkdirSync(opts.shotDir, { recursive: true });
        entry.screenshot = path.join(opts.shotDir, stem + '.png');
        await page.screenshot({ path: entry.screenshot });
      }
      await page.evaluate(showPreviews, media);
      entry.layout = await page.evaluate(layoutReport);             // every output preview shown
      if (opts.shotDir) {
        entry.screenshot_previews = path.join(opts.shotDir, stem + '.previews.png');
        await page.screenshot({ path: entry.screenshot_previews });
      }
      if (opts.apiDir && !r.missing.length) {
        fs.mkdirSync(opts.apiDir, { recursive: true });
        const out = path.join(opts.apiDir, stem + '_api.json');
        fs.writeFileSync(out, JSON.stringify(await toApi(), null, 2) + '\n');
        entry.api = out;
      }
      entry.page_errors = pageErrors.slice(errsBefore);
      report.workflows[f] = entry;
      const L = entry.layout;
      console.error(`${f}: ${r.missing.length ? 'MISSING ' + r.missing.join(', ') : 'ok'} (${r.nodes} nodes; `
        + `overlaps ${L.overlaps.length}, too small ${L.too_small.length}, notes ${L.notes}, `
        + `off view on open ${entry.on_open.off_view.length}, covered on open ${entry.on_open.covered.length}, scale ${entry.on_open.ds.scale.toFixed(2)})`);
      if (r.missing.length) rc = 3;
    }
    report.elapsed_ms = Date.now() - t0;
    const text = JSON.stringify(report, null, 2);
    if (opts.json) fs.writeFileSync(opts.json, text + '\n');
    console.log(text);
  } else if (cmd === 'api2ui') {
    const sizes = {};
    for (let i = 0; i < files.length; i += 2) {
      const [src, dst] = [files[i], files[i + 1]];
      const wf = readJson(src);
      if (!isApi(wf)) usage(`${src} is not API format`);
      const r = await load(wf);
      if (r.missing.length) {
        console.error(`${src}: missing node types: ${r.missing.join(', ')}`);
        rc = 3;
        continue;
      }
      await page.evaluate(waitForMedia);
      // seeds stay as given ("control after generate: fixed", not the UI's default "randomize")
      const out = await page.evaluate(() => {
        for (const n of app.graph.nodes ?? app.graph._nodes) {
          for (const w of n.widgets ?? []) if (w.name === 'control_after_generate') w.value = 'fixed';
        }
        return app.graph.serialize();
      });
      fs.writeFileSync(dst, JSON.stringify(out, null, 2) + '\n');
      console.error(`wrote ${dst}`);
      if (opts.sizes) {
        await page.evaluate(showPreviews, media);
        sizes[dst] = Object.fromEntries((await page.evaluate(layoutReport)).nodes.map((n) => [n.id, n.min_size]));
      }
    }
    if (opts.sizes) fs.writeFileSync(opts.sizes, JSON.stringify(sizes, null, 2) + '\n');
  } else if (cmd === 'ui2api') {
    const [src, dst] = files;
    const wf = readJson(src);
    if (isApi(wf)) usage(`${src} is not UI format`);
    const r = await load(wf);
    if (r.missing.length) {
      console.error(`missing node types: ${r.missing.join(', ')}`);
      rc = 3;
    } else {
      fs.writeFileSync(dst, JSON.stringify(await toApi(), null, 2) + '\n');
      console.error(`wrote ${dst}`);
    }
  } else if (cmd === 'shot') {
    if (files[1]) {
      const r = await load(readJson(files[1]));
      if (r.missing.length) { console.error(`missing node types: ${r.missing.join(', ')}`); rc = 3; }
    }
    await page.waitForTimeout(800);
    await page.screenshot({ path: files[0] });
    console.error(`screenshot: ${files[0]}`);
  }
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join(' | ')}`);
} finally {
  await ctx.close();
  fs.rmSync(udd, { recursive: true, force: true });
}
process.exit(rc);
