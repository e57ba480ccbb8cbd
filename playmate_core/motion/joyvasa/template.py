"""`motion_template.pkl`: the statistics that turn JoyVASA's normalised output into LivePortrait motion.

JoyVASA's motion vector (D >= 70; the released D = 73, dims 70+ are unused at inference):

    [0:63] exp (21x3)   z-scored:  exp = v * std_exp + mean_exp
    [63]   scale        min-max:   x = v * (max_x - min_x) + min_x     (also for t, pitch, yaw, roll)
    [64:67] t (x,y,z)
    [67] pitch  [68] yaw  [69] roll   DEGREES

`denormalise` returns OUR 70-d layout (playmate_core/motion/layout.py: exp, pitch/yaw/roll, t, scale).

Reading: the released file is a plain pickle of a dict of numpy arrays. It is opened with a restricted
unpickler that resolves only numpy's array/dtype reconstructors (no other callable can run), and the
twelve fields we use are written once to `<name>.safetensors` beside it; later loads read that file
while the pickle's size and mtime still match. A template given as .safetensors or .json is read directly.
"""
from __future__ import annotations

import io
import json
import logging
import os
import pickle
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from ...loading import CheckpointError

log = logging.getLogger("playmate")

FIELD_SIZES = {"mean_exp": 63, "std_exp": 63, "min_scale": 1, "max_scale": 1, "min_t": 3, "max_t": 3,
               "min_pitch": 1, "max_pitch": 1, "min_yaw": 1, "max_yaw": 1, "min_roll": 1, "max_roll": 1}
# JoyVASA dims -> our layout: (name, joyvasa slice, our slice)
RANGE_FIELDS = (("scale", slice(63, 64), slice(69, 70)), ("t", slice(64, 67), slice(66, 69)),
                ("pitch", slice(67, 68), slice(63, 64)), ("yaw", slice(68, 69), slice(64, 65)),
                ("roll", slice(69, 70), slice(65, 66)))
_NUMPY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                  ("numpy", "ndarray"), ("numpy", "dtype")}
FIX = ("use motion_template.pkl from the jdh-algo/JoyVASA Hugging Face repo "
       "(motion_template/motion_template.pkl)")


@dataclass(frozen=True)
class MotionTemplate:
    """The twelve template fields as float tuples (sizes in FIELD_SIZES)."""
    mean_exp: tuple
    std_exp: tuple
    min_scale: tuple
    max_scale: tuple
    min_t: tuple
    max_t: tuple
    min_pitch: tuple
    max_pitch: tuple
    min_yaw: tuple
    max_yaw: tuple
    min_roll: tuple
    max_roll: tuple

    def tensor(self, name: str, like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(getattr(self, name), dtype=like.dtype, device=like.device)

    def denormalise(self, v: torch.Tensor) -> torch.Tensor:
        """(N,D>=70) JoyVASA output -> (N,70) our layout (exp, pitch/yaw/roll deg, t, scale)."""
        out = v.new_empty(v.shape[0], 70)
        out[:, 0:63] = v[:, 0:63] * self.tensor("std_exp", v) + self.tensor("mean_exp", v)
        for name, src, dst in RANGE_FIELDS:
            lo, hi = self.tensor(f"min_{name}", v), self.tensor(f"max_{name}", v)
            out[:, dst] = v[:, src] * (hi - lo) + lo
        return out


def template_from_mapping(data, path: Path) -> MotionTemplate:
    """dict of array-likes -> MotionTemplate; CheckpointError naming the file and the missing fields."""
    if not isinstance(data, dict):
        raise CheckpointError(f"motion template '{path}' holds {type(data).__name__}, expected a dict of "
                              f"statistics; {FIX}")
    missing = [k for k in FIELD_SIZES if k not in data]
    if missing:
        raise CheckpointError(f"motion template '{path}' lacks the field(s) {missing} (needed: "
                              f"{sorted(FIELD_SIZES)}); is it a JoyVASA motion_template.pkl? {FIX}")
    values = {}
    for name, size in FIELD_SIZES.items():
        arr = np.asarray(data[name], dtype=np.float64).reshape(-1)
        if arr.size != size or not np.isfinite(arr).all():
            raise CheckpointError(f"motion template '{path}': field '{name}' has {arr.size} value(s) (finite: "
                                  f"{bool(np.isfinite(arr).all())}), expected {size} finite values; {FIX}")
        values[name] = tuple(float(x) for x in arr)
    return MotionTemplate(**values)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Resolves numpy's array/dtype reconstructors and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a motion template")
        if module.startswith("numpy.core") and int(np.__version__.split(".")[0]) >= 2:
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def read_template_pickle(path: Path) -> MotionTemplate:
    try:
        data = _NumpyOnlyUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as exc:
        raise CheckpointError(f"cannot read motion template '{path}' safely ({type(exc).__name__}: {exc}); it "
                              f"must be a pickle of numpy arrays only. {FIX}") from exc
    return template_from_mapping(data, path)


def _converted_path(path: Path) -> Path:
    return path.with_suffix(".safetensors")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"source": path.name, "source_size": str(st.st_size), "source_mtime_ns": str(st.st_mtime_ns)}


def save_template(template: MotionTemplate, path: Path, metadata: dict | None = None) -> Path:
    """Write the twelve fields as float64 tensors to a .safetensors file (atomically)."""
    from safetensors.torch import save_file
    tensors = {f.name: torch.tensor(getattr(template, f.name), dtype=torch.float64) for f in fields(template)}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"playmate_format": "joyvasa_template", **(metadata or {})})
    os.replace(tmp, path)
    return path


def _read_converted(path: Path, source: Path | None) -> MotionTemplate | None:
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            data = {k: f.get_tensor(k).numpy() for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - any decoder failure: the file is unusable
        if source is not None:
            return None                                   # stale or broken cache: re-convert the pickle
        raise CheckpointError(f"cannot read motion template '{path}' ({type(exc).__name__}: {exc}); {FIX}") from exc
    if source is not None and any(meta.get(k) != v for k, v in _stamp(source).items()):
        return None
    return template_from_mapping(data, path)


def load_template(path: str | Path) -> MotionTemplate:
    """Read motion_template.pkl (restricted; converted once to .safetensors), .safetensors or .json."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motion template '{path}' does not exist; {FIX} and put it in "
                                f"ComfyUI/models/playmate/")
    if path.suffix == ".safetensors":
        return _read_converted(path, None)
    if path.suffix == ".json":
        try:
            return template_from_mapping(json.loads(path.read_text()), path)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"motion template '{path}' is not valid JSON ({exc}); {FIX}") from exc
    converted = _converted_path(path)
    if converted.is_file():
        cached = _read_converted(converted, path)
        if cached is not None:
            return cached
    template = read_template_pickle(path)
    try:
        save_template(template, converted, _stamp(path))
        log.info("motion template %s converted to %s (used from now on)", path, converted)
    except OSError as exc:
        log.warning("could not write %s (%s); the pickle will be read again next time", converted, exc)
    return template
