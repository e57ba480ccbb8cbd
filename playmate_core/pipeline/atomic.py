"""Write a file all at once: to a temporary name in the target folder, renamed over the target at the end.

A failed or cancelled write (any exception, KeyboardInterrupt included) removes the temporary file
and leaves an existing target untouched. The result gets FILE_MODE (safetensors and mkstemp would
otherwise leave owner-only 0600 files in ComfyUI's output folder).
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

FILE_MODE = 0o644


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path `.<name>.<random>.part<suffix>` beside `path`; publish it on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.part{suffix}"
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
