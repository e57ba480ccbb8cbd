#!/usr/bin/env python3
"""Install, start, check and stop a real headless ComfyUI 0.3.75 server on CPU (stdlib only).

Library (used by tests/e2e/conftest.py) and CLI (used by CI and scripts/main_job.sh):

    python tools/comfyui/server.py install --venv DIR [--no-plugin-deps] [--test-deps]
    python tools/comfyui/server.py start   --venv DIR --base-dir DIR [--port N] [--models-from DIR]
                                           [--no-demo-models] [--timeout S] [--json] [-- MAIN_PY_ARGS...]
    python tools/comfyui/server.py stop    (PID | --base-dir DIR)

`install` (comfy_install.py) builds a venv that can run ComfyUI *and* this node pack (and, with
--test-deps, our pytest suite).

`start` prepares BASE (custom_nodes/ComfyUI-Playmate -> this repo, input/ output/ temp/ user/ models/),
writes the tiny demo models into BASE/models (tools/make_demo_models.py --keep-real: real LivePortrait
weights already there stay) unless --models-from/
--no-demo-models, starts the server detached (log BASE/comfyui.log, pid BASE/comfyui.pid), waits until
/system_stats answers, then fails loudly (log tail, exit 4) when the log shows "(IMPORT FAILED)" or
/object_info lists no Playmate node. stdout: "PID URL" (or a JSON object with --json).
Exit codes: 0 ok, 1 install/start failure, 3 not ready in time, 4 our node pack did not load.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))      # the sibling module, however this file is loaded
from comfy_install import (COMFY_VERSION, NODE_PREFIX, PACK_NAME, REPO, ServerError, _log,  # noqa: E402,F401
                           comfy_dir_of, install, is_installed, venv_python)

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
    r = subprocess.run([str(python), str(script), "--models-dir", str(models_dir), "--seed", str(seed),
                        "--keep-real"],
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
