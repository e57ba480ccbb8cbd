"""Every shipped UI workflow in the real ComfyUI web UI (headless Debian Chromium, tools/comfyui/ui_check.mjs):
no missing node types; what the UI would queue matches the shipped API twin (same node types); a newcomer's
layout (no node box overlapping another, with every image/video/audio preview shown as after a run; no node
smaller than its contents; a Note; the whole graph inside the visible canvas on open, nothing under the side
bar, tab bar, floating run bar or minimap); the Templates browser finds each example with its thumbnail.
Screenshots of each workflow (on open, and with previews) are saved into the test's folder (path printed)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from .e2e_env import API_DIR, ASSETS, EXAMPLES, ROOT, UI_DIR, api_workflows, comfy_server, ui_workflows, unavailable

UI_CHECK = ROOT / "tools" / "comfyui" / "ui_check.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MEDIA_INPUTS = {"LoadImage": "image", "LoadAudio": "audio", "LoadVideo": "file"}


@pytest.fixture(scope="module")
def ui_report(comfy, uploaded, tmp_path_factory) -> dict:
    node = shutil.which("node")
    if not node:
        unavailable("node (Node.js) is not installed")
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    if not (ROOT / "tools" / "comfyui" / "node_modules" / "playwright-core").is_dir() and not os.environ.get("PLAYWRIGHT_CORE_DIR"):
        unavailable("playwright-core is not installed (npm ci --prefix tools/comfyui)")
    files = ui_workflows()
    if not files:
        pytest.fail("no UI-format workflow in workflows/ or example_workflows/")
    out = tmp_path_factory.mktemp("ui")
    r = subprocess.run([node, str(UI_CHECK), "check", "--api-dir", str(out / "api"), "--shot-dir", str(out / "shots"),
                        "--templates", comfy_server.PACK_NAME, *map(str, files)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT,
                       env={**os.environ, "COMFY_URL": comfy.url, "CHROMIUM": CHROMIUM})
    print(r.stderr[-4000:])
    assert r.returncode in (0, 3), f"ui_check.mjs failed (exit {r.returncode}):\n{r.stderr[-4000:]}"
    report = json.loads(r.stdout)
    print(f"[e2e] UI ready in {report['ui_ready_ms']} ms; {len(files)} workflows checked in {report['elapsed_ms']} ms; "
          f"screenshots in {out / 'shots'}")
    return report


def _entry(ui_report, path):
    return ui_report["workflows"][str(path)]


def _names(entry, ids):
    types = {n["id"]: f"{n['id']} {n['type']} {n['title']!r}" for n in entry["layout"]["nodes"]}
    return [types.get(i, str(i)) for i in ids]


@pytest.mark.parametrize("path", ui_workflows(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ui_workflow_loads_without_missing_nodes(ui_report, path):
    entry = _entry(ui_report, path)
    assert entry["format"] == "ui", f"{path} is not a UI-format workflow (API JSON belongs in *_api.json)"
    assert not entry["missing"], f"{path}: missing node types in the web UI: {entry['missing']}"
    assert entry["nodes_loaded"] > 0


@pytest.mark.parametrize("path", [p for p in ui_workflows() if p.parent == UI_DIR], ids=lambda p: p.name)
def test_ui_workflow_matches_api_twin(ui_report, path):
    twin = API_DIR / f"{path.stem}_api.json"
    if not twin.is_file():
        pytest.fail(f"{path.name} has no API-format twin {twin.name}")
    converted = json.loads(Path(_entry(ui_report, path)["api"]).read_text())
    shipped = json.loads(twin.read_text())
    a = Counter(n["class_type"] for n in converted.values())
    b = Counter(n["class_type"] for n in shipped.values())
    assert a == b, f"{path.name} queues {dict(a)} but {twin.name} has {dict(b)}"


@pytest.mark.parametrize("path", ui_workflows(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ui_layout_a_newcomer_can_read(ui_report, path):
    """Boxes as the frontend computes them after load, with every output preview shown (ComfyUI's own
    `executed` message replayed with the uploaded photo and video); groups are not nodes."""
    entry = _entry(ui_report, path)
    layout, on_open = entry["layout"], entry["on_open"]
    overlaps = [f"{a} / {b} ({w}x{h})" for a, b, w, h in
                [(*_names(entry, o[:2]), o[2], o[3]) for o in layout["overlaps"]]]
    assert not overlaps, f"{path.name}: node boxes overlap: {overlaps}"
    assert not layout["too_small"], f"{path.name}: contents reach past the node's box: {layout['too_small']}"
    assert layout["notes"] >= 1, f"{path.name}: no Note node"
    assert any("upload" in t.lower() and "model" in t.lower() for t in layout["note_text"]), \
        f"{path.name}: the note does not say what to upload and which models: {layout['note_text']}"
    assert layout["groups"], f"{path.name}: no groups"
    assert not on_open["off_view"], f"{path.name}: outside the canvas view on open: {on_open['off_view']}"
    assert not on_open["covered"], f"{path.name}: under the UI's bars or minimap on open: {on_open['covered']}"
    for shot in (entry["screenshot"], entry["screenshot_previews"]):
        assert Path(shot).stat().st_size > 10_000, shot


def test_templates_have_human_names_and_thumbnails(ui_report):
    """The Templates browser (frontend 1.32.9) shows an example's FILE NAME as its title and description and
    loads <name>.jpg next to it as the thumbnail."""
    listed = ui_report["templates"]
    names = sorted(p.stem for p in EXAMPLES.glob("*.json"))
    assert names and set(names) <= set(listed), (names, sorted(listed))
    for name in names:
        assert " " in name and "_" not in name, f"template name {name!r} is not plain words"
        assert listed[name]["json"] == 200 and listed[name]["nodes"] > 0, (name, listed[name])
        assert listed[name]["jpg"] and min(listed[name]["jpg"]) >= 200, f"{name}: no thumbnail ({listed[name]})"


@pytest.mark.parametrize("path", api_workflows(), ids=lambda p: p.name)
def test_workflow_inputs_are_shipped_samples(path):
    """Every file a workflow loads is among the sample inputs shipped in workflows/assets (the e2e fixtures
    upload those same files)."""
    wf = json.loads(path.read_text())
    shipped = {p.name for p in ASSETS.iterdir()}
    for nid, node in wf.items():
        key = MEDIA_INPUTS.get(node["class_type"])
        if key:
            assert node["inputs"][key] in shipped, f"{path.name} node {nid}: {node['inputs'][key]!r} not in {shipped}"
