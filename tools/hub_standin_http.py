"""HTTP side of the hub stand-in (tools/hub_standin.py): one request -> the hub's answer.

`make_handler(hub)` returns the BaseHTTPRequestHandler class for a HubStandin: it parses
`/{owner}/{repo}/resolve/{revision}/{path}`, answers 404 with the hub's X-Error-Code for what is missing,
sends the hub's headers (Content-Length, ETag, X-Linked-*, X-Repo-Commit, Accept-Ranges, Content-Range),
honours one `Range: bytes=a-b`, and streams the body while applying the hub's rules (status, throttle,
cut, hold). Each request is appended to `hub.requests` as a `Served` record before it is answered.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHUNK = 1 << 20
_RESOLVE = re.compile(r"^/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class Served:
    """One request as the stand-in saw it; `complete` is True when the whole requested body was sent."""
    method: str
    path: str
    repo_id: str | None
    revision: str | None
    filename: str | None
    status: int = 0
    range: str | None = None
    length: int = 0
    bytes_sent: int = 0
    complete: bool = False
    aborted: bool = False          # the client closed the connection before the end (cancel)
    started: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        return f"{self.repo_id}/{self.filename}"


def make_handler(hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "hub-standin"

        def log_message(self, fmt, *args):           # quiet: tests read hub.requests instead
            pass

        def do_HEAD(self):
            self._serve(head=True)

        def do_GET(self):
            self._serve(head=False)

        def _error(self, rec: Served, status: int, code: str | None, message: str):
            body = json.dumps({"error": message}).encode()
            rec.status = status
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _serve(self, head: bool):
            path = unquote(urlsplit(self.path).path)
            m = _RESOLVE.match(path)
            owner, name, revision, filename = m.groups() if m else (None, None, None, None)
            rec = Served(self.command, path, f"{owner}/{name}" if m else None, revision, filename,
                         range=self.headers.get("Range"))
            with hub._lock:
                hub.requests.append(rec)
            if not m:
                return self._error(rec, 404, None, f"not a resolve URL: {path}")
            repo_dir = hub.root / owner / name
            parts = (owner, name, *filename.split("/"))
            if any(p.startswith(".") or p in ("", "..") for p in parts) or not repo_dir.is_dir():
                return self._error(rec, 404, "RepoNotFound", f"Repository {owner}/{name} not found")
            commit = hub.commit(repo_dir)
            if revision not in ("main", commit):
                return self._error(rec, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
            file = repo_dir / filename
            if not file.is_file():
                return self._error(rec, 404, "EntryNotFound", f"Entry {filename} not found in {owner}/{name}")
            rule = hub._rule_for(rec.key, self.command)
            if rule is not None and rule.status is not None:
                return self._error(rec, rule.status, None, f"stand-in rule {rule.pattern}: status {rule.status}")
            size = file.stat().st_size
            etag, lfs = hub.etag(repo_dir, file)
            start, end, status = 0, size, 200
            if rec.range:
                r = _RANGE.match(rec.range.strip())
                a, b = (r.group(1), r.group(2)) if r else ("", "")
                if not r or (a == "" and b == ""):
                    return self._error(rec, 416, None, f"unsupported Range {rec.range!r}")
                start, end = (int(a), min(size, int(b) + 1) if b else size) if a else (max(0, size - int(b)), size)
                if start >= size or start >= end:
                    return self._error(rec, 416, None, f"Range {rec.range!r} outside {size} bytes")
                status = 206
            rec.status, rec.length = status, end - start
            self.send_response(status)
            self.send_header("Content-Length", str(end - start))
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"{etag}"')
            self.send_header("X-Repo-Commit", commit)
            if lfs:
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(size))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.end_headers()
            if head:
                rec.complete = True
                return
            self._body(rec, file, start, end, rule)

        def _body(self, rec: Served, file: Path, start: int, end: int, rule):
            bps = rule.bytes_per_second if rule else None
            chunk = min(CHUNK, max(1024, int(bps / 20))) if bps else CHUNK
            t0 = time.monotonic()
            try:
                with open(file, "rb") as f:
                    f.seek(start)
                    while rec.bytes_sent < end - start:
                        n = min(chunk, end - start - rec.bytes_sent)
                        if rule and rule.cut_after is not None:
                            if rec.bytes_sent >= rule.cut_after:
                                self.close_connection = True
                                return
                            n = min(n, rule.cut_after - rec.bytes_sent)
                        if rule and rule.hold_after is not None and rec.bytes_sent >= rule.hold_after:
                            self.wfile.flush()
                            while not rule.released.wait(0.05):
                                if hub._stopping.is_set():
                                    self.close_connection = True
                                    return
                        elif rule and rule.hold_after is not None:
                            n = min(n, rule.hold_after - rec.bytes_sent)
                        data = f.read(n)
                        self.wfile.write(data)
                        rec.bytes_sent += len(data)
                        if bps:
                            time.sleep(max(0.0, rec.bytes_sent / bps - (time.monotonic() - t0)))
                self.wfile.flush()
                rec.complete = True
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                rec.aborted = True
                self.close_connection = True

    return Handler

