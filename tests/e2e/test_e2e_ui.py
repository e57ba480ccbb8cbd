"""Every UI-format workflow loads in the real ComfyUI web UI (headless Debian Chromium) with no missing
node types, and what the UI would queue matches the shipped API-format twin (same node types)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from .e2e_env import API_DIR, ROOT, UI_DIR, ui_workflows, unavailable

UI_CHECK = ROOT / "tools" / "comfyui" / "ui_check.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def ui_report(comfy, tmp_path_factory) -> dict:
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
    r = subprocess.run([node, str(UI_CHECK), "check", "--api-dir", str(out / "api"), *map(str, files)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env={**os.environ, "COMFY_URL": comfy.url, "CHROMIUM": CHROMIUM})
    print(r.stderr[-4000:])
    assert r.returncode in (0, 3), f"ui_check.mjs failed (exit {r.returncode}):\n{r.stderr[-4000:]}"
    report = json.loads(r.stdout)
    print(f"[e2e] UI ready in {report['ui_ready_ms']} ms; {len(files)} workflows checked in {report['elapsed_ms']} ms")
    return report


@pytest.mark.parametrize("path", ui_workflows(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ui_workflow_loads_without_missing_nodes(ui_report, path):
    entry = ui_report["workflows"][str(path)]
    assert entry["format"] == "ui", f"{path} is not a UI-format workflow (API JSON belongs in *_api.json)"
    assert not entry["missing"], f"{path}: missing node types in the web UI: {entry['missing']}"
    assert entry["nodes_loaded"] > 0


@pytest.mark.parametrize("path", [p for p in ui_workflows() if p.parent == UI_DIR], ids=lambda p: p.name)
def test_ui_workflow_matches_api_twin(ui_report, path):
    twin = API_DIR / f"{path.stem}_api.json"
    if not twin.is_file():
        pytest.fail(f"{path.name} has no API-format twin {twin.name}")
    converted = json.loads(Path(ui_report["workflows"][str(path)]["api"]).read_text())
    shipped = json.loads(twin.read_text())
    a = Counter(n["class_type"] for n in converted.values())
    b = Counter(n["class_type"] for n in shipped.values())
    assert a == b, f"{path.name} queues {dict(a)} but {twin.name} has {dict(b)}"
