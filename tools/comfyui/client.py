#!/usr/bin/env python3
"""Stdlib HTTP client for a ComfyUI server: upload inputs, run API-format workflows, fetch outputs.

Library (tests/e2e) and CLI:

    python tools/comfyui/client.py run WORKFLOW_API.json [--server URL] [--upload FILE[:SUBFOLDER]]...
        [--set NODE.INPUT=JSON]... [--set-all INPUT=JSON]... [--download DIR] [--timeout S]
        [--expect success|execution_error|validation_error|interrupted] [--summary FILE]
    python tools/comfyui/client.py interrupt [--server URL] [PROMPT_ID]

`run` prints one JSON summary on stdout: {prompt_id, status, elapsed_s, files: [{node, kind, filename,
subfolder, type, url, saved_to}], outputs, error}. Exit codes: 0 the expected outcome (default success),
1 execution error / interrupted, 2 validation error (HTTP 400), 3 timeout (prompt cancelled),
4 server unreachable or bad usage, 5 a UI-format workflow was given (needs the API format).
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

DEFAULT_SERVER = os.environ.get("COMFY_URL", "http://127.0.0.1:8188")


class ComfyClient:
    def __init__(self, server: str = DEFAULT_SERVER, timeout: float = 60.0):
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex

    # --- raw HTTP -----------------------------------------------------------------------------
    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        data = body
        if body is not None and not isinstance(body, (bytes, bytearray)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, method: str, path: str, body=None):
        code, raw = self.request(method, path, body)
        try:
            return code, (json.loads(raw) if raw else None)
        except ValueError:
            return code, raw.decode(errors="replace")

    def get(self, path: str):
        code, data = self.json("GET", path)
        if code != 200:
            raise RuntimeError(f"GET {path}: HTTP {code}: {str(data)[:500]}")
        return data

    # --- API ------------------------------------------------------------------------------------
    def object_info(self, node: str | None = None) -> dict:
        return self.get("/object_info" + (f"/{urllib.parse.quote(node)}" if node else ""))

    def upload(self, path: str | Path, subfolder: str = "", name: str | None = None, kind: str = "input") -> str:
        """POST /upload/image (takes images, audio and video). Returns the name to use in Load* nodes."""
        path = Path(path)
        name = name or path.name
        boundary = uuid.uuid4().hex
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in (("type", kind), ("overwrite", "true"), ("subfolder", subfolder))]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                     f"Content-Type: {ctype}\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        code, raw = self.request("POST", "/upload/image", b"".join(parts),
                                 {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        if code != 200:
            raise RuntimeError(f"upload of {path} failed: HTTP {code} {raw[:300]!r}")
        r = json.loads(raw)
        return f"{r['subfolder']}/{r['name']}" if r.get("subfolder") else r["name"]

    def submit(self, prompt: dict) -> tuple[int, dict]:
        """POST /prompt. Returns (http_status, body): 200 {prompt_id, number, node_errors} or 400 {error, node_errors}."""
        code, body = self.json("POST", "/prompt", {"prompt": prompt, "client_id": self.client_id})
        if not isinstance(body, dict):
            body = {"error": {"type": "http", "message": str(body)[:2000]}, "node_errors": {}}
        return code, body

    def history(self, prompt_id: str) -> dict | None:
        code, h = self.json("GET", f"/history/{prompt_id}")
        if code == 200 and isinstance(h, dict) and prompt_id in h:
            return h[prompt_id]
        return None

    def queue(self) -> tuple[list[str], list[str]]:
        q = self.get("/queue")
        return [x[1] for x in q.get("queue_running", [])], [x[1] for x in q.get("queue_pending", [])]

    def wait(self, prompt_id: str, timeout: float = 600.0, poll: float = 0.25, cancel_on_timeout: bool = True) -> dict:
        """Poll /history until the prompt finished; TimeoutError (prompt cancelled) after TIMEOUT."""
        t0 = time.time()
        while True:
            h = self.history(prompt_id)
            if h is not None:
                return h
            if time.time() - t0 > timeout:
                if cancel_on_timeout:
                    self.cancel(prompt_id)
                raise TimeoutError(f"prompt {prompt_id} not finished after {timeout:.0f} s")
            time.sleep(poll)

    def wait_running(self, prompt_id: str, timeout: float = 60.0) -> bool:
        t0 = time.time()
        while time.time() - t0 < timeout:
            running, _ = self.queue()
            if prompt_id in running:
                return True
            if self.history(prompt_id) is not None:
                return False
            time.sleep(0.1)
        return False

    def interrupt(self, prompt_id: str | None = None) -> int:
        code, _ = self.json("POST", "/interrupt", {"prompt_id": prompt_id} if prompt_id else {})
        return code

    def cancel(self, prompt_id: str) -> None:
        self.json("POST", "/queue", {"delete": [prompt_id]})
        self.interrupt(prompt_id)

    def view(self, filename: str, subfolder: str = "", type: str = "output") -> bytes:
        q = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder, "type": type})
        code, raw = self.request("GET", f"/view?{q}")
        if code != 200:
            raise RuntimeError(f"/view {filename}: HTTP {code}")
        return raw

    def view_url(self, f: dict) -> str:
        q = urllib.parse.urlencode({"filename": f["filename"], "subfolder": f.get("subfolder", ""),
                                    "type": f.get("type", "output")})
        return f"{self.server}/view?{q}"

    def download(self, files: list[dict], outdir: str | Path) -> list[dict]:
        outdir = Path(outdir)
        for f in files:
            d = outdir / f["subfolder"] if f.get("subfolder") else outdir
            d.mkdir(parents=True, exist_ok=True)
            dest = d / f["filename"]
            raw = self.view(f["filename"], f.get("subfolder", ""), f.get("type", "output"))
            dest.write_bytes(raw)
            f["saved_to"], f["bytes"] = str(dest), len(raw)
        return files

    def run(self, prompt: dict, timeout: float = 600.0, download: str | Path | None = None) -> "Result":
        t0 = time.time()
        code, body = self.submit(prompt)
        if code != 200 or "prompt_id" not in body:
            return Result("validation_error", http_status=code, response=body, elapsed_s=time.time() - t0)
        pid = body["prompt_id"]
        try:
            h = self.wait(pid, timeout)
        except TimeoutError:
            return Result("timeout", prompt_id=pid, http_status=code, response=body, elapsed_s=time.time() - t0)
        r = Result.from_history(pid, h, elapsed_s=time.time() - t0, response=body)
        for f in r.files:
            f["url"] = self.view_url(f)
        if download is not None and r.files:
            self.download(r.files, download)
        return r


class Result:
    """Outcome of one prompt: status is success | execution_error | interrupted | validation_error | timeout."""

    def __init__(self, status: str, prompt_id: str | None = None, history: dict | None = None,
                 http_status: int = 200, response: dict | None = None, elapsed_s: float = 0.0):
        self.status, self.prompt_id, self.history = status, prompt_id, history or {}
        self.http_status, self.response, self.elapsed_s = http_status, response or {}, elapsed_s
        self.outputs = self.history.get("outputs") or {}
        self.files = collect_files(self.outputs)
        self.error = error_event(self.history.get("status")) if self.history else None
        if status == "validation_error":
            self.error = validation_errors(self.response)
        if status == "success" and self.response.get("node_errors"):
            self.status = "validation_error"  # only part of the prompt was queued
            self.error = validation_errors(self.response)

    @classmethod
    def from_history(cls, prompt_id: str, h: dict, **kw) -> "Result":
        status = h.get("status") or {}
        ev = error_event(status)
        if ev and ev["event"] == "execution_interrupted":
            s = "interrupted"
        elif status.get("status_str") == "error" or ev:
            s = "execution_error"
        else:
            s = "success"
        return cls(s, prompt_id=prompt_id, history=h, **kw)

    @property
    def messages(self) -> list:
        return (self.history.get("status") or {}).get("messages", [])

    def executed_nodes(self) -> list[str]:
        """Node ids that executed (from the execution_error event, or the outputs on success)."""
        if self.error and "executed" in self.error:
            return list(self.error["executed"])
        return [m[1].get("node") for m in self.messages if m[0] == "executed"] or list(self.outputs)

    def summary(self) -> dict:
        return {"prompt_id": self.prompt_id, "status": self.status, "elapsed_s": round(self.elapsed_s, 3),
                "files": self.files, "outputs": self.outputs, "error": self.error}


def collect_files(outputs: dict) -> list[dict]:
    files = []
    for node_id, out in (outputs or {}).items():
        for kind, items in out.items():
            if isinstance(items, list):
                for it in items:
                    if isinstance(it, dict) and "filename" in it:
                        files.append({"node": node_id, "kind": kind, "filename": it["filename"],
                                      "subfolder": it.get("subfolder", ""), "type": it.get("type", "output")})
    return files


def error_event(status: dict | None) -> dict | None:
    """The execution_error / execution_interrupted event of a /history status, with the useful keys."""
    for name, data in (status or {}).get("messages", []):
        if name in ("execution_error", "execution_interrupted"):
            e = {"event": name}
            for k in ("node_id", "node_type", "exception_type", "exception_message", "traceback", "executed"):
                if k in data:
                    e[k] = data[k]
            if isinstance(e.get("exception_message"), str):
                e["exception_message"] = e["exception_message"].rstrip("\n")
            return e
    return None


def validation_errors(body: dict) -> dict:
    """{'type', 'message', 'details', 'nodes': {id: {'class_type', 'errors': [{type, message, details, input_name}]}}}."""
    e = (body or {}).get("error") or {}
    out = {"event": "validation_error", "type": e.get("type"), "message": e.get("message"),
           "details": e.get("details"), "nodes": {}}
    for nid, ne in ((body or {}).get("node_errors") or {}).items():
        out["nodes"][nid] = {"class_type": ne.get("class_type"), "errors": [
            {"type": x.get("type"), "message": x.get("message"), "details": x.get("details"),
             "input_name": (x.get("extra_info") or {}).get("input_name")} for x in ne.get("errors", [])]}
    return out


def load_api_workflow(path: str | Path) -> dict | None:
    """API-format dict {id: {class_type, inputs}}; None when the file is a UI-format workflow."""
    wf = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(wf, dict) and isinstance(wf.get("prompt"), dict):
        wf = wf["prompt"]
    if isinstance(wf, dict) and isinstance(wf.get("nodes"), list):
        return None
    if not isinstance(wf, dict) or not all(isinstance(v, dict) and "class_type" in v for v in wf.values()):
        raise ValueError(f"{path}: not an API-format workflow ({{node_id: {{class_type, inputs}}}})")
    return wf


def _value(raw: str):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def set_input(wf: dict, spec: str) -> None:
    """NODE.INPUT=VALUE: NODE is a node id or a class_type (all nodes of that type)."""
    key, eq, raw = spec.partition("=")
    node, dot, name = key.partition(".")
    targets = [n for n in wf if n == node] or [n for n, v in wf.items() if v.get("class_type") == node]
    if not (eq and dot and targets):
        raise ValueError(f"--set {spec!r}: expected NODE.INPUT=VALUE with a node id or class_type of the workflow")
    for n in targets:
        wf[n].setdefault("inputs", {})[name] = _value(raw)


def set_all(wf: dict, spec: str) -> list[str]:
    """INPUT=VALUE on every node that has INPUT as a literal (not a link); returns the node ids changed."""
    name, eq, raw = spec.partition("=")
    if not eq:
        raise ValueError(f"--set-all {spec!r}: expected INPUT=VALUE")
    changed = []
    for n, v in wf.items():
        ins = v.get("inputs", {})
        if name in ins and not isinstance(ins[name], list):
            ins[name] = _value(raw)
            changed.append(n)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="run an API-format workflow and print a JSON summary")
    p.add_argument("workflow")
    p.add_argument("--server", default=DEFAULT_SERVER)
    p.add_argument("--upload", action="append", default=[], metavar="FILE[:SUBFOLDER]")
    p.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE",
                   help="override one input (NODE = node id or class_type; VALUE parsed as JSON if it can be)")
    p.add_argument("--set-all", action="append", default=[], metavar="INPUT=VALUE",
                   help="override INPUT on every node that has it as a literal (e.g. fps=30)")
    p.add_argument("--download", metavar="DIR")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--expect", default="success",
                   choices=["success", "execution_error", "validation_error", "interrupted"])
    p.add_argument("--summary", metavar="FILE", help="also write the JSON summary to FILE")
    p = sub.add_parser("interrupt", help="interrupt the running prompt (or only PROMPT_ID)")
    p.add_argument("prompt_id", nargs="?")
    p.add_argument("--server", default=DEFAULT_SERVER)
    a = ap.parse_args(argv)
    c = ComfyClient(a.server)
    err = lambda m: print(f"[client] {m}", file=sys.stderr, flush=True)  # noqa: E731

    if a.cmd == "interrupt":
        try:
            return 0 if c.interrupt(a.prompt_id) == 200 else 1
        except OSError as e:
            err(f"server {a.server} unreachable: {e}")
            return 4
    try:
        wf = load_api_workflow(a.workflow)
    except (OSError, ValueError) as e:
        err(f"cannot read workflow: {e}")
        return 4
    if wf is None:
        err(f"{a.workflow} is a UI-format workflow; /prompt needs the API format (workflows/*_api.json, "
            "or convert it: node tools/comfyui/ui_check.mjs ui2api UI.json OUT_api.json)")
        return 5
    try:
        for s in a.set:
            set_input(wf, s)
        for s in a.set_all:
            if not set_all(wf, s):
                err(f"--set-all {s}: no node has that input as a literal value")
        for spec in a.upload:
            path, _, subfolder = spec.partition(":")
            name = c.upload(path, subfolder)
            err(f"uploaded {path} -> input/{name}")
        r = c.run(wf, timeout=a.timeout, download=a.download)
    except ValueError as e:
        err(str(e))
        return 4
    except (OSError, RuntimeError) as e:
        err(f"server {a.server} unreachable or request failed: {e}")
        return 4
    text = json.dumps(r.summary(), indent=2)
    print(text)
    if a.summary:
        Path(a.summary).write_text(text + "\n")
    if r.status == "success":
        err(f"success in {r.elapsed_s:.1f} s; {len(r.files)} file(s)")
    elif r.status == "validation_error":
        err(f"rejected (HTTP {r.http_status}): {r.error.get('type')}: {r.error.get('message')}")
        for nid, ne in r.error["nodes"].items():
            for x in ne["errors"]:
                err(f"  node {nid} ({ne['class_type']}): {x['type']}: {x['message']}: {x['details']}")
    elif r.status == "execution_error":
        err(f"node {r.error.get('node_id')} ({r.error.get('node_type')}) raised "
            f"{r.error.get('exception_type')}: {r.error.get('exception_message')}")
    else:
        err(f"{r.status} ({r.prompt_id})")
    if a.expect != "success":
        return 0 if r.status == a.expect else 6
    return {"success": 0, "execution_error": 1, "interrupted": 1, "validation_error": 2, "timeout": 3}[r.status]


if __name__ == "__main__":
    sys.exit(main())
