"""Streaming download of one public file from the Hugging Face hub (stdlib only, no cache on the system disk).

    url = file_url("jdh-algo/JoyVASA", "motion_template/motion_template.pkl")   # HF_ENDPOINT honoured
    download_file(url, Path("models/playmate/motion_template.pkl"), progress=cb, check=cb2)

The bytes go to a hidden partial file beside the destination (same file system), are counted against a size
bound and the announced Content-Length, and only a complete file is renamed onto the final path
(`os.replace`, atomic): a cancelled, failed or truncated download leaves nothing at the final path and no
partial file behind. `check()` runs between chunks (ComfyUI's Cancel raises from it); `progress(done, total)`
is called in bytes, at most every PROGRESS_EVERY_S seconds and once at the end.

HF_ENDPOINT (default https://huggingface.co) is read at call time, like huggingface_hub does, so a mirror
or a local stand-in of the hub can serve the same `<endpoint>/<repo>/resolve/<revision>/<file>` paths.
"""
from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Callable

DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK_BYTES = 1 << 20
MAX_FILE_BYTES = 8 << 30                  # no public file this pack uses is near 8 GiB
TIMEOUT_S = 30.0
PROGRESS_EVERY_S = 0.25
USER_AGENT = "ComfyUI-Playmate (urllib)"


class DownloadError(RuntimeError):
    """A download that did not produce the complete file (nothing was left at the destination)."""


def endpoint() -> str:
    """The hub's base URL: $HF_ENDPOINT, else https://huggingface.co (no trailing slash)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def file_url(repo_id: str, filename: str, revision: str = "main", base: str | None = None) -> str:
    """<endpoint>/<repo_id>/resolve/<revision>/<filename> (the path every Hugging Face client uses)."""
    return f"{(base or endpoint()).rstrip('/')}/{repo_id}/resolve/{revision}/{urllib.parse.quote(filename)}"


def partial_name(dest: Path) -> Path:
    """A hidden, unique partial file beside `dest` (never listed as a model: it ends in .partial)."""
    return dest.with_name(f".{dest.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")


def download_file(url: str, dest: str | Path, *, progress: Callable[[int, int], None] | None = None,
                  check: Callable[[], None] | None = None, max_bytes: int = MAX_FILE_BYTES,
                  timeout: float = TIMEOUT_S, chunk_bytes: int = CHUNK_BYTES) -> Path:
    """Stream `url` into `dest` atomically; returns `dest`. Raises DownloadError (HTTP error, unreachable
    host, over the size bound, truncated) or whatever `check`/`progress` raise (a cancel), leaving no file."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = partial_name(dest)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = _announced_size(response, url, max_bytes)
            done = _stream(response, part, total, url, max_bytes, chunk_bytes, progress, check)
        if total is not None and done != total:
            raise DownloadError(f"{url}: the connection closed after {done} of {total} bytes (truncated); "
                                f"run again to retry")
        os.replace(part, dest)
        return dest
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: cannot reach {urllib.parse.urlsplit(url).netloc} ({exc.reason})") from exc
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)


def _announced_size(response, url: str, max_bytes: int) -> int | None:
    raw = response.headers.get("Content-Length")
    total = int(raw) if raw and raw.isdigit() else None
    if total is not None and total > max_bytes:
        raise DownloadError(f"{url}: the server announces {total} bytes, over the {max_bytes}-byte bound for one "
                            f"model file; refusing it")
    return total


def _stream(response, part: Path, total: int | None, url: str, max_bytes: int, chunk_bytes: int,
            progress, check) -> int:
    done, last = 0, 0.0
    with open(part, "wb") as fh:
        while True:
            if check is not None:
                check()
            block = response.read(chunk_bytes)
            if not block:
                break
            done += len(block)
            if done > max_bytes:
                raise DownloadError(f"{url}: more than {max_bytes} bytes received; over the bound for one model "
                                    f"file, refusing it")
            fh.write(block)
            now = time.monotonic()
            if progress is not None and now - last >= PROGRESS_EVERY_S:
                progress(done, total or done)
                last = now
        fh.flush()
        os.fsync(fh.fileno())
    if progress is not None:
        progress(done, total or done)
    return done
