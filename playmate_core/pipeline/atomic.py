"""Write a file all at once: to a temporary name, renamed over the target at the end.

A failed or cancelled write (any exception, KeyboardInterrupt included) removes the temporary file
and leaves an existing target untouched. The result gets FILE_MODE (safetensors and mkstemp would
otherwise leave owner-only 0600 files in ComfyUI's output folder).

    atomic_path(target)                      temporary  .<name>.<8 hex>.part<suffix>  beside the target
    atomic_path(target, staging_dir=TMP)     temporary  in TMP (e.g. ComfyUI's temp folder, emptied at
                                             start), so a crash (kill -9) leaves nothing beside the target;
                                             across file systems it is copied to a hidden name beside the
                                             target first and renamed from there
    sweep_partials(folder)                   removes temporaries this module left under `folder`
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

FILE_MODE = 0o644
PARTIAL = re.compile(r"^\..+\.[0-9a-f]{8}\.part(\.[A-Za-z0-9]+)?$")     # what _partial_name makes


def _partial_name(path: Path, suffix: str) -> str:
    return f".{path.name}.{uuid.uuid4().hex[:8]}.part{suffix}"


def _publish(tmp: Path, path: Path, suffix: str) -> None:
    os.chmod(tmp, FILE_MODE)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        near = path.parent / _partial_name(path, suffix)           # another file system: copy, then rename
        try:
            shutil.copyfile(tmp, near)
            os.chmod(near, FILE_MODE)
            os.replace(near, path)
        finally:
            near.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path, suffix: str = "", staging_dir: str | Path | None = None) -> Iterator[Path]:
    """Yield a temporary path (beside `path`, or in `staging_dir`); publish it as `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.parent if staging_dir is None else Path(staging_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / _partial_name(path, suffix)
    try:
        yield tmp
        _publish(tmp, path, suffix)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sweep_partials(folder: str | Path) -> list[Path]:
    """Delete the temporaries atomic_path left under `folder` (a crash mid-write); returns what went."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    gone = []
    for entry in folder.rglob(".*.part*"):
        if entry.is_file() and not entry.is_symlink() and PARTIAL.match(entry.name):
            entry.unlink(missing_ok=True)
            gone.append(entry)
    return gone
