"""Face crops of a prepared clip, stored compressed and written as they are made (bounded memory).

    crops/<clip>.jpg.bin    the 256x256 RGB crops as JPEG files (quality 95) one after another
    crops/<clip>.idx.npy    int64 (N+1,) byte offsets: frame i is bytes [idx[i], idx[i+1]) of the .bin;
                            an empty range = no crop for that frame (no tracked face there)
Frame i is frame i of the source clip at 25 fps; a manifest entry (one kept segment) names the pair
and its frame range ("crops", "crop_range": [start, stop)). About 13 kB a frame instead of 196 kB raw
(measured on the real talking-head clip of tests/trainer).
Older prepared data stored crops/<clip>.safetensors ("frames" (N,256,256,3) uint8): still read.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

QUALITY = 95


class CropWriter:
    """Append one crop per frame (or None); `close()` writes the index; files appear atomically."""

    def __init__(self, bin_path: Path):
        self.path = Path(bin_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        self._fh = open(self._tmp, "wb")
        self.offsets = [0]

    def add(self, rgb: np.ndarray | None) -> None:
        if rgb is not None:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
            if not ok:
                raise RuntimeError(f"JPEG encoding of a crop for '{self.path}' failed")
            self._fh.write(buf.tobytes())
            self.offsets.append(self.offsets[-1] + len(buf))
        else:
            self.offsets.append(self.offsets[-1])

    def close(self) -> None:
        self._fh.close()
        idx = index_path(self.path)
        tmp_idx = idx.with_name(idx.name + f".tmp{os.getpid()}.npy")
        np.save(tmp_idx, np.asarray(self.offsets, dtype=np.int64))
        os.replace(self._tmp, self.path)
        os.replace(tmp_idx, idx)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


def index_path(bin_path: Path) -> Path:
    return Path(str(bin_path).removesuffix(".jpg.bin") + ".idx.npy")


class CropReader:
    """reader[i] -> (256,256,3) uint8 RGB of clip frame i (JPEG store or legacy safetensors)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._legacy = None
        if self.path.suffix == ".safetensors":
            from safetensors.torch import load_file
            self._legacy = load_file(str(self.path))["frames"].numpy()               # (N,256,256,3)
            self.offsets = None
        else:
            self.offsets = np.load(index_path(self.path))

    def __len__(self) -> int:
        return len(self._legacy) if self._legacy is not None else len(self.offsets) - 1

    def has(self, i: int) -> bool:
        return self._legacy is not None or self.offsets[i + 1] > self.offsets[i]

    def __getitem__(self, i: int) -> np.ndarray:
        if self._legacy is not None:
            return self._legacy[i]
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        if b <= a:
            raise IndexError(f"'{self.path}' holds no crop for frame {i}")
        with open(self.path, "rb") as fh:
            fh.seek(a)
            buf = np.frombuffer(fh.read(b - a), dtype=np.uint8)
        return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def valid_store(bin_path: Path) -> bool:
    try:
        idx = np.load(index_path(bin_path))
        return bin_path.is_file() and bin_path.stat().st_size == int(idx[-1])
    except (OSError, ValueError, IndexError):
        return False
