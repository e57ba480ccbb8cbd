"""Paths, the server/client modules of tools/comfyui and prerequisite handling shared by the e2e tests."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
WORKFLOWS = ROOT / "workflows"
API_DIR = WORKFLOWS / "api"              # API format (POST /prompt); sub-folders, so ComfyUI's template
UI_DIR = WORKFLOWS / "ui"                # list (which also scans workflows/*.json) shows no duplicates
EXAMPLES = ROOT / "example_workflows"
ASSETS = WORKFLOWS / "assets"
# The shipped JoyVASA workflow names the public files. The e2e server (conftest `comfy`) holds tiny random
# files in their layout and links them at the public names (marked untrained inside, so `auto` ranks them as
# demo files and the node warns), so that workflow runs unchanged. {public path: demo path} under models/.
PUBLIC_DEMO_LINKS = {"playmate/motion_generator_hubert_chinese.pt": "playmate/joyvasa-tiny-random.pt",
                     "audio_encoders/chinese-hubert-base": "audio_encoders/hubert-tiny-random"}
OPTIONAL = os.environ.get("PLAYMATE_E2E_OPTIONAL") == "1"
# Another ComfyUI to test against (a checkout's folder, run with the venv's python; README "ComfyUI versions"):
# PLAYMATE_E2E_COMFYUI=/path/to/ComfyUI PLAYMATE_COMFY_VENV=/path/to/venv. Unset: VENV/comfyui-0.3.75.
COMFYUI_DIR = os.environ.get("PLAYMATE_E2E_COMFYUI") or None
SPEECH_TEXT = "Hello, I am a talking portrait."
SPEECH_S = 1.46          # seconds of speech the workflows run on (12.5 fps -> 19 frames, 25 -> 37)
SHORT_S = 0.73           # 25 fps -> 19 frames, 30 fps -> 22 frames
E2E_FPS = 12.5           # the shipped workflows run at this fps in the e2e tests (their own is 25)
LONG_TEXT = ("This is a much longer sentence, spoken on purpose so that the render takes a good while, "
             "which gives the test enough time to press the interrupt button while frames are being drawn. ") * 3


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


comfy_server = _load("playmate_comfy_server", ROOT / "tools" / "comfyui" / "server.py")
comfy_client = _load("playmate_comfy_client", ROOT / "tools" / "comfyui" / "client.py")


def unavailable(reason: str):
    """Fail (CI) or skip (PLAYMATE_E2E_OPTIONAL=1) for a missing prerequisite."""
    if OPTIONAL:
        pytest.skip(f"{reason} (skipped because PLAYMATE_E2E_OPTIONAL=1)")
    pytest.fail(f"{reason}. Run .ci/run (installs it), or set PLAYMATE_E2E_OPTIONAL=1 to skip the e2e tests.",
                pytrace=False)


def comfy_dir(venv: Path) -> Path:
    """The ComfyUI folder the e2e server runs: $PLAYMATE_E2E_COMFYUI, else the venv's comfyui-0.3.75."""
    return Path(COMFYUI_DIR).absolute() if COMFYUI_DIR else comfy_server.comfy_dir_of(venv)


def find_comfy_venv() -> Path | None:
    cands = [os.environ.get("PLAYMATE_COMFY_VENV"), sys.prefix, ROOT / ".venv-ci", ROOT / ".venv-comfyui"]
    for c in cands:
        if not c:
            continue
        if COMFYUI_DIR and comfy_server.venv_python(c).exists() and (comfy_dir(Path(c)) / "main.py").is_file():
            return Path(c)
        if not COMFYUI_DIR and comfy_server.is_installed(c):
            return Path(c)
    return None



def api_workflows() -> list[Path]:
    return sorted(API_DIR.glob("*_api.json"))


def ui_workflows() -> list[Path]:
    return sorted(p for p in list(UI_DIR.glob("*.json")) + list(EXAMPLES.glob("*.json"))
                  if not p.name.endswith("_api.json"))
