"""A local stand-in for the Hugging Face model hub, for download tests only (stdlib; binds 127.0.0.1).

It serves a folder tree `<root>/<owner>/<repo>/<path>` as hub repositories at the URL shape that
huggingface_hub's `hf_hub_download` and plain HTTP clients use (point them at it with HF_ENDPOINT):

    GET | HEAD  {endpoint}/{owner}/{repo}/resolve/{revision}/{path}      revision: "main" or the repo's commit

with Content-Length, ETag (sha256 for large/binary files, git blob sha1 for small text files, as the
hub does), X-Linked-Etag / X-Linked-Size on the large ones, X-Repo-Commit (a stable 40-hex id per
repository), Accept-Ranges and single `Range: bytes=a-b` requests (206). Missing things answer 404
with the hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound). Files and folders whose
name starts with "." are never served. Every request is recorded (`requests`, `downloaded()`), and
rules make a file fail, slow down, cut the connection or hang until released (cancel/error tests).
The random full-size files in the public layouts come from tools/hub_standin_tree.py (`ensure_tree`);
the HTTP answers are written by tools/hub_standin_http.py.

    with HubStandin(ensure_tree()) as hub:                 # a free port; hub.endpoint = "http://127.0.0.1:N"
        os.environ["HF_ENDPOINT"] = hub.endpoint           # before huggingface_hub is imported, or endpoint=
        hub.add_rule("jdh-algo/JoyVASA/*.pt", status=403)  # or bytes_per_second=, cut_after=, hold_after=
        ...; assert "Kijai/LivePortrait_safetensors/warping_module.safetensors" in hub.downloaded()

CLI:  python tools/hub_standin.py build            # build the cached tree, print sizes and times
      python tools/hub_standin.py serve [--root DIR] [--port N] [--fail GLOB:STATUS] [--slow GLOB:BPS]
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import importlib.util
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".pkl", ".ckpt", ".onnx", ".h5", ".msgpack", ".npz")
LFS_MIN_BYTES = 10 << 20
DONE_FILE = ".hub_standin_done.json"        # build record of tools/hub_standin_tree.py (sizes, sha256)


def _sibling(name: str):
    """tools/<name>.py as module `name` (tools/ is not a package)."""
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


Served = _sibling("hub_standin_http").Served        # the request record (re-exported)


def ensure_tree(cache_dir=None, repos=None) -> Path:
    """Build (once, cached) the random full-size tree; see tools/hub_standin_tree.py. Needs torch."""
    return _sibling("hub_standin_tree").ensure_tree(cache_dir, repos)


@dataclass
class Rule:
    """What to do to requests whose "owner/repo/path" matches `pattern` (fnmatch, case-sensitive).
    status -> answer that HTTP status instead of the file (HEAD and GET; huggingface_hub retries 5xx
    with back-off for tens of seconds, 403 fails at once); bytes_per_second -> throttle the body;
    cut_after -> close the connection after that many body bytes; hold_after -> send that many bytes,
    then wait until `release()` (or the server stops). `times`: how many requests it applies to
    (None: all; status rules count HEAD and GET, body rules GET only); `hits` counts them."""
    pattern: str
    status: int | None = None
    bytes_per_second: float | None = None
    cut_after: int | None = None
    hold_after: int | None = None
    times: int | None = None
    hits: int = 0
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class HubStandin:
    """The server: `start()`/`stop()` or a context manager; port 0 picks a free port."""

    def __init__(self, root, host: str = "127.0.0.1", port: int = 0):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"hub stand-in root '{self.root}' is not a folder (build it with ensure_tree())")
        self.requests: list = []
        self.rules: list = []
        self._lock = threading.Lock()
        self._hashes: dict = {}
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _sibling("hub_standin_http").make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, repo_id: str, filename: str, revision: str = "main") -> str:
        return f"{self.endpoint}/{repo_id}/resolve/{revision}/{filename}"

    def start(self) -> "HubStandin":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for rule in list(self.rules):
            rule.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "HubStandin":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ rules and records
    def add_rule(self, pattern: str, **kw) -> Rule:
        rule = Rule(pattern, **kw)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget the recorded requests and drop (and release) every rule."""
        with self._lock:
            for rule in self.rules:
                rule.release()
            self.rules.clear()
            self.requests.clear()

    def downloaded(self) -> list:
        """["owner/repo/path", ...] of GET requests whose whole body was sent, in order."""
        with self._lock:
            return [r.key for r in self.requests if r.method == "GET" and r.complete and r.status in (200, 206)]

    def served(self, method: str | None = None) -> list:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    def _rule_for(self, key: str, method: str) -> Rule | None:
        """The first live rule for `key`; a status rule counts HEAD and GET, a body rule only GET."""
        with self._lock:
            for rule in self.rules:
                if rule.status is None and method != "GET":
                    continue
                if fnmatch.fnmatchcase(key, rule.pattern) and (rule.times is None or rule.hits < rule.times):
                    rule.hits += 1
                    return rule
        return None

    # ------------------------------------------------------------------ repository facts
    def commit(self, repo_dir: Path) -> str:
        """A stable 40-hex commit id: sha1 of the repository's file names, sizes and mtimes."""
        h = hashlib.sha1()
        for p in sorted(_files(repo_dir)):
            st = p.stat()
            h.update(f"{p.relative_to(repo_dir).as_posix()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def etag(self, repo_dir: Path, path: Path) -> tuple:
        """(etag, is_lfs): sha256 (from the build record when it still matches) or the git blob sha1."""
        st = path.stat()
        lfs = path.suffix in LFS_SUFFIXES or st.st_size >= LFS_MIN_BYTES
        memo = (str(path), st.st_size, st.st_mtime_ns, lfs)
        if memo not in self._hashes:
            rel = path.relative_to(repo_dir).as_posix()
            known = _record(repo_dir).get(rel, {})
            if lfs and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns:
                value = known["sha256"]
            else:
                h = hashlib.sha256() if lfs else hashlib.sha1(b"blob %d\0" % st.st_size)
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 22), b""):
                        h.update(block)
                value = h.hexdigest()
            self._hashes[memo] = value
        return self._hashes[memo], lfs


def _files(repo_dir: Path):
    for p in repo_dir.rglob("*"):
        rel = p.relative_to(repo_dir).parts
        if p.is_file() and not any(part.startswith(".") for part in rel):
            yield p


def _record(repo_dir: Path) -> dict:
    try:
        return json.loads((repo_dir / DONE_FILE).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError):
        return {}



def _parse_rule(text: str, what: str) -> tuple:
    pattern, _, value = text.rpartition(":")
    if not pattern or not value:
        raise SystemExit(f"--{what} expects GLOB:NUMBER, got {text!r}")
    return pattern, float(value)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the cached random full-size tree and print sizes and times")
    b.add_argument("--cache", help="cache folder (default $PLAYMATE_HUB_STANDIN_CACHE or .pytest_cache/d/hub-standin)")
    s = sub.add_parser("serve", help="serve a tree on 127.0.0.1 until interrupted")
    s.add_argument("--root", help="tree to serve (default: the cached tree, built if needed)")
    s.add_argument("--cache")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--fail", action="append", default=[], help="GLOB:STATUS, e.g. 'jdh-algo/*:500'")
    s.add_argument("--slow", action="append", default=[], help="GLOB:BYTES_PER_SECOND")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        root = ensure_tree(args.cache)
        total = 0
        for repo_id, path, size, seconds in _sibling("hub_standin_tree").tree_report(root):
            total += size
            print(f"{size / 1e6:10.1f} MB  {repo_id}/{path}  (repo built in {seconds:.1f} s)")
        print(f"{total / 1e6:10.1f} MB  total, in {root}")
        return 0
    hub = HubStandin(args.root or ensure_tree(args.cache), port=args.port)
    for text in args.fail:
        pattern, value = _parse_rule(text, "fail")
        hub.add_rule(pattern, status=int(value))
    for text in args.slow:
        pattern, value = _parse_rule(text, "slow")
        hub.add_rule(pattern, bytes_per_second=value)
    hub.start()
    print(f"HF_ENDPOINT={hub.endpoint}  (serving {hub.root}; Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
