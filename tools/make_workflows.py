#!/usr/bin/env python3
"""Regenerate every shipped UI workflow from its API twin, in ONE command:

    .venv-ci/bin/python tools/make_workflows.py [--url URL] [--venv .venv-ci] [--thumbnails] [--only NAME ...]

1. Starts a real ComfyUI with this pack (tools/comfyui/server.py; or uses --url), uploads workflows/assets/.
2. Brings each workflows/api/<name>_api.json up to date with the server's node inputs (/object_info): inputs a
   node no longer has are dropped (reported), new widget inputs get their defaults, Playmate Load Models names
   'auto' where it offers it (the JoyVASA workflow keeps JoyVASA's public file names).
3. Converts API -> UI with the frontend's own code (tools/comfyui/ui_check.mjs api2ui, headless chromium), which
   also reports the smallest size the frontend gives each node with its previews shown (images, video, audio).
4. Lays the graph out from tools/workflow_layouts.py: columns by stage, a titled group per stage, a Note node
   (what it does, what to upload, which models and how to get them), node sizes that hold their previews, and
   extra.ds so the whole graph shows on open in a 1400x900 window of ComfyUI's frontend (its side bar, tab bar,
   floating title/run bar and minimap left free).
5. Writes workflows/ui/<name>.json and the same bytes to example_workflows/<template name>.json (stale example
   files removed). --thumbnails also renders example_workflows/<template name>.jpg (tools/workflow_thumbnails.py).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "comfyui"))
from workflow_layouts import LAYOUTS, NOTE  # noqa: E402

API_DIR, UI_DIR, EXAMPLES, ASSETS = (ROOT / "workflows" / "api", ROOT / "workflows" / "ui", ROOT / "example_workflows",
                                     ROOT / "workflows" / "assets")
UI_CHECK = ROOT / "tools" / "comfyui" / "ui_check.mjs"
AUTO_SLOTS = ("motion_model", "emotion_model", "audio_encoder")
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
KEEP_NAMES = {"joyvasa_audio_to_video"}          # names JoyVASA's public files on purpose
TITLE_H, HEADER, PAD, GAP_Y, GROUP_GAP, GAP_X = 30, 46, 14, 26, 34, 46   # graph units
MIN_W, NOTE_W, NOTE_H = 300, 400, 520
EXTRA_H = {"PreviewImage": 40, "PlaymateMotionPreview": 0, "SaveVideo": 0}
# ComfyUI 0.3.75's frontend (1.32.9) in a 1400x900 window: the canvas part free of chrome (x0, y0, x1, y1) and the
# minimap + zoom buttons in its lower right corner (measured with ui_check.mjs; its check verifies the result).
FREE, MINIMAP = (72, 140, 1385, 885), (1112, 622, 1400, 900)


def sync_api(name: str, wf: dict, info: dict) -> list[str]:
    """Follow the server's node inputs; returns what changed (for the log)."""
    log = []
    for nid, node in wf.items():
        spec = info.get(node["class_type"])
        if spec is None:
            continue
        known = {k: v for sec in ("required", "optional") for k, v in (spec["input"].get(sec) or {}).items()}
        for k in [k for k in node["inputs"] if k not in known]:
            log.append(f"{name}: node {nid} {node['class_type']}: dropped input {k}={node['inputs'].pop(k)!r}")
        for sec in ("required", "optional"):
            for k, v in (spec["input"].get(sec) or {}).items():
                opts = v[1] if len(v) > 1 and isinstance(v[1], dict) else {}
                widget = isinstance(v[0], list) or v[0] in WIDGET_TYPES
                if k not in node["inputs"] and widget and "default" in opts:
                    node["inputs"][k] = opts["default"]
                    log.append(f"{name}: node {nid} {node['class_type']}: new input {k}={opts['default']!r}")
        if node["class_type"] == "PlaymateLoadModels" and name not in KEEP_NAMES:
            for k in AUTO_SLOTS:
                if "auto" in (known.get(k, [None, {}])[1].get("options") or []) and node["inputs"].get(k) != "auto":
                    log.append(f"{name}: {k} {node['inputs'].get(k)!r} -> 'auto'")
                    node["inputs"][k] = "auto"
    return log


def column_layout(layout, sizes: dict, types: dict):
    """Positions {id: (pos, size)}, groups [(title, bounding)], the graph's bounding box."""
    place, groups, x = {}, [], 40.0
    for column in layout.columns:
        ids = [i for _, members in column for i in members]
        w = max([NOTE_W if i == NOTE else max(MIN_W, sizes[i][0]) for i in ids])
        y = 40.0
        for title, members in column:
            top = y
            y += HEADER
            for i in members:
                h = NOTE_H if i == NOTE else sizes[i][1] + EXTRA_H.get(types[i], 0)
                place[i] = ([x + PAD, y + TITLE_H], [w, h])
                y += TITLE_H + h + GAP_Y
            y += PAD - GAP_Y
            groups.append((title, [x, top, w + 2 * PAD, y - top]))
            y += GROUP_GAP
        x += w + 2 * PAD + GAP_X
    x1 = max(b[0] + b[2] for _, b in groups)
    y1 = max(b[1] + b[3] for _, b in groups)
    return place, groups, (40.0, 40.0, x1, y1)


def fit_view(boxes: list, bounds: tuple) -> dict:
    """The largest scale whose view shows every box inside FREE and none under MINIMAP (screen = (g + off) * s)."""
    gx0, gy0, gx1, gy1 = bounds
    best = None
    for fx0, fy0, fx1, fy1 in (FREE, (FREE[0], FREE[1], MINIMAP[0] - 4, FREE[3]),
                               (FREE[0], FREE[1], FREE[2], MINIMAP[1] - 4)):
        s = min((fx1 - fx0) / (gx1 - gx0), (fy1 - fy0) / (gy1 - gy0), 1.0)
        off = [fx0 / s - gx0, fy0 / s - gy0]
        hidden = any((b[0] + off[0]) * s < MINIMAP[2] and (b[0] + b[2] + off[0]) * s > MINIMAP[0]
                     and (b[1] + off[1]) * s < MINIMAP[3] and (b[1] + b[3] + off[1]) * s > MINIMAP[1] for b in boxes)
        if not hidden and (best is None or s > best["scale"]):
            best = {"scale": round(s, 4), "offset": [round(off[0], 2), round(off[1], 2)]}
    return best


def apply_layout(name: str, ui: dict, sizes: dict) -> dict:
    layout = LAYOUTS[name]
    types = {str(n["id"]): n["type"] for n in ui["nodes"]}
    laid = {i for col in layout.columns for _, m in col for i in m if i != NOTE}
    if laid != set(types):
        raise SystemExit(f"{name}: layout names nodes {sorted(laid)} but the workflow has {sorted(types)}")
    place, groups, bounds = column_layout(layout, sizes, types)
    for n in ui["nodes"]:
        n["pos"], n["size"] = place[str(n["id"])]
    note_id = max(int(i) for i in types) + 1
    pos, size = place[NOTE]
    ui["nodes"].append({"id": note_id, "type": "Note", "pos": pos, "size": size, "flags": {}, "order": len(ui["nodes"]),
                        "mode": 0, "inputs": [], "outputs": [], "title": "Read me first", "properties": {},
                        "widgets_values": [layout.note()], "color": "#432", "bgcolor": "#653"})
    ui["last_node_id"] = max(ui.get("last_node_id", 0), note_id)
    ui["groups"] = [{"id": k + 1, "title": t, "bounding": [round(v, 1) for v in b], "color": "#3f789e",
                     "font_size": 24, "flags": {}} for k, (t, b) in enumerate(groups)]
    boxes = [[p[0], p[1] - TITLE_H, s[0], s[1] + TITLE_H] for p, s in place.values()]
    ui.setdefault("extra", {})["ds"] = fit_view(boxes, bounds)
    return ui


def measure(url: str, names: list, sizes: dict, tmp: Path) -> list[str]:
    """Load the laid-out UI files in the frontend (previews shown) and raise each node's size to what it needs:
    its size after load, its computeSize() (canvas-drawn contents) or the bottom/right of its DOM widgets."""
    report_path = tmp / "check.json"
    subprocess.run(["node", str(UI_CHECK), "check", "--json", str(report_path),
                    *[str(UI_DIR / f"{n}.json") for n in names]], check=True, capture_output=True,
                   env={**os.environ, "COMFY_URL": url})
    report = json.loads(report_path.read_text())["workflows"]
    grown = []
    for name in names:
        entry = report[str(UI_DIR / f"{name}.json")]
        key = str(tmp / f"{name}.json")
        for n in entry["layout"]["nodes"]:
            nid = str(n["id"])
            if nid not in sizes[key]:
                continue                              # the Note
            need_w = n["content"][0] + 4 if n["dom"] else n["min_size"][0]
            need_h = n["content"][1] + 8 if n["dom"] else n["min_size"][1]
            need_h = max(need_h, n["size"][1]) - EXTRA_H.get(n["type"], 0)
            old = sizes[key][nid]
            new = [max(old[0], min(need_w, 480)), max(old[1], need_h)]
            if new[1] > old[1] + 1 or new[0] > old[0] + 1:
                sizes[key][nid] = [round(new[0]), round(new[1])]
                grown.append(f"{name}:{nid}:{n['type']} {old} -> {sizes[key][nid]}")
    return grown


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running ComfyUI with this pack (default: start one)")
    ap.add_argument("--venv", default=str(ROOT / ".venv-ci"))
    ap.add_argument("--only", nargs="*", help="workflow names (default: all)")
    ap.add_argument("--thumbnails", action="store_true", help="also render example_workflows/<template>.jpg")
    args = ap.parse_args(argv)
    import server as comfy_server
    from client import ComfyClient

    srv = None
    with tempfile.TemporaryDirectory(prefix="make-workflows-") as tmp:
        if args.url is None:
            srv = comfy_server.start_server(args.venv, Path(tmp) / "base", extra_args=["--cache-none"], timeout=240)
        url = args.url or srv.url
        try:
            client = ComfyClient(url, timeout=120)
            for f in sorted(ASSETS.iterdir()):
                client.upload(f)
            info = client.object_info()
            names = args.only or sorted(LAYOUTS)
            pairs = []
            for name in names:
                api_path = API_DIR / f"{name}_api.json"
                wf = json.loads(api_path.read_text())
                for line in sync_api(name, wf, info):
                    print(line)
                api_path.write_text(json.dumps(wf, indent=2) + "\n")
                pairs += [str(api_path), str(Path(tmp) / f"{name}.json")]
            sizes_path = Path(tmp) / "sizes.json"
            subprocess.run(["node", str(UI_CHECK), "api2ui", "--sizes", str(sizes_path), *pairs], check=True,
                           env={**os.environ, "COMFY_URL": url})
            sizes = json.loads(sizes_path.read_text())
            EXAMPLES.mkdir(exist_ok=True)
            titles = {LAYOUTS[n].title for n in LAYOUTS}
            for stale in EXAMPLES.glob("*.*"):              # old names (snake_case) of the same workflows
                if stale.suffix in (".json", ".jpg") and stale.stem not in titles:
                    print(f"removed stale {stale.relative_to(ROOT)}")
                    stale.unlink()
            todo = list(names)
            for round_ in range(4):                   # lay out, load in the frontend, grow what it needs, again
                for name in todo:
                    out = Path(tmp) / f"{name}.json"
                    ui = apply_layout(name, json.loads(out.read_text()), sizes[str(out)])
                    (UI_DIR / f"{name}.json").write_text(json.dumps(ui, indent=2) + "\n")
                grown = measure(url, todo, sizes, Path(tmp))
                print(f"layout round {round_ + 1}: nodes grown: {grown or 'none'}")
                todo = sorted({g.split(':')[0] for g in grown})
                if not todo:
                    break
            for name in names:
                ui = json.loads((UI_DIR / f"{name}.json").read_text())
                (EXAMPLES / f"{LAYOUTS[name].title}.json").write_text((UI_DIR / f"{name}.json").read_text())
                print(f"{name}: {len(ui['nodes'])} nodes, {len(ui['groups'])} groups, view scale {ui['extra']['ds']['scale']}"
                      f" -> workflows/ui/{name}.json, example_workflows/{LAYOUTS[name].title}.json")
            if args.thumbnails:
                from workflow_thumbnails import render_all
                render_all(client, names, Path(tmp))
        finally:
            if srv is not None:
                srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
