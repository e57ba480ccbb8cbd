"""The one adapter between ComfyUI's runtime and playmate_core.

Everything ComfyUI-specific that is not a node schema lives here: model folders (folder_paths,
so extra_model_paths.yaml works), the model cache, device / precision / offload through
comfy.model_management (ModelPatcher), ProgressBar and interruption, and output paths.
Nodes stay thin: convert types, make one core call, return.
"""
from __future__ import annotations

import logging
import os
import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

import comfy.model_management as mm
import comfy.model_patcher
import comfy.utils
import folder_paths

from ..playmate_core.face import weights as lpw
from ..playmate_core.crop import FaceCropper
from ..playmate_core.face.engine import FaceEngine, load_face_engine
from ..playmate_core.motion.backend import (MotionBackend, is_checkpoint_name, is_emotion_checkpoint_name,
                                            load_motion_backend)

log = logging.getLogger("playmate")

# ---- model folders -------------------------------------------------------------------------------
FOLDERS = ("liveportrait", "playmate", "audio_encoders", "insightface")
LIVEPORTRAIT_SETS = ("human", "animal")
NONE = "none"


def register_folders() -> None:
    """models/liveportrait, models/playmate, models/insightface (audio_encoders is ComfyUI's own)."""
    for name in FOLDERS:
        folder_paths.add_model_folder_path(name, os.path.join(folder_paths.models_dir, name))


def folder_roots(name: str) -> list:
    try:
        return [Path(p) for p in folder_paths.get_folder_paths(name)]
    except KeyError:
        return [Path(folder_paths.models_dir) / name]


def liveportrait_choices() -> list:
    """"human" and "animal" always (a shared workflow validates everywhere; a missing set fails at
    run time with the expected paths), then every sub-folder of models/liveportrait that holds a set."""
    found = list(LIVEPORTRAIT_SETS)
    for root in folder_roots("liveportrait"):
        if not root.is_dir():
            continue
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in ("animal", "liveportrait_animals")):
            try:
                lpw.locate(sub)
            except (FileNotFoundError, ValueError):
                continue
            if sub.name not in found:
                found.append(sub.name)
    return found


def resolve_liveportrait(choice: str) -> tuple:
    """Choice -> (folder, animal). The first root that holds the set wins; else the first root
    (so the error lists the expected paths there)."""
    animal = choice == "animal"
    roots = folder_roots("liveportrait")
    candidates = roots if choice in LIVEPORTRAIT_SETS else [r / choice for r in roots]
    for folder in candidates:
        try:
            lpw.locate(folder, animal=animal)
            return folder, animal
        except (FileNotFoundError, ValueError):
            continue
    return candidates[0], animal


def motion_choices() -> list:
    """Files in models/playmate that some motion backend loads (the core decides; companions excluded)."""
    files = [f for f in folder_paths.get_filename_list("playmate") if is_checkpoint_name(f)]
    return sorted(files) + [NONE]


def emotion_choices() -> list:
    return [NONE] + [f for f in motion_choices() if is_emotion_checkpoint_name(f)]


def _encoder_folders() -> dict:
    """name -> folder: HF folders (config.json + weights) in models/audio_encoders and models/playmate."""
    found: dict = {}
    for key in ("audio_encoders", "playmate"):
        for root in folder_roots(key):
            if root.is_dir():
                for sub in sorted(root.iterdir()):
                    if (sub / "config.json").is_file() and sub.name not in found:
                        found[sub.name] = sub
    return found


def encoder_choices() -> list:
    names = list(_encoder_folders())
    return names or ["wav2vec2-base-960h"]


def resolve_encoder(name: str) -> Path:
    found = _encoder_folders()
    if name in found:
        return found[name]
    return folder_roots("audio_encoders")[0] / name       # AudioEncoder.from_pretrained names what is missing


def resolve_model_file(name: str) -> Path:
    path = folder_paths.get_full_path("playmate", name)
    if path is None:
        roots = ", ".join(str(r) for r in folder_roots("playmate"))
        raise FileNotFoundError(f"motion checkpoint '{name}' is not in models/playmate ({roots}); put the file there "
                                f"(trained with trainer/) or choose one that is, then refresh the node list (R)")
    return Path(path)


# ---- device and precision -------------------------------------------------------------------------
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device(choice: str) -> torch.device:
    return torch.device("cpu") if choice == "cpu" else mm.get_torch_device()


def pick_dtypes(device: torch.device, precision: str) -> tuple:
    """-> (face engine dtype, motion model dtype). auto: fp16 renderer on CUDA/MPS (LivePortrait's
    own default), bf16 motion model where supported; fp32 on the CPU."""
    if precision != "auto":
        dtype = _DTYPES[precision]
        if device.type == "cpu" and dtype != torch.float32:
            raise ValueError(f"precision {precision} is not supported on the CPU (Load Playmate Models -> precision: "
                             f"choose fp32 or auto, or device gpu)")
        return dtype, dtype
    if device.type == "cpu":
        return torch.float32, torch.float32
    if device.type == "mps":
        return torch.float16, torch.float32
    face = torch.float16 if mm.should_use_fp16(device) else torch.float32
    motion = torch.bfloat16 if mm.should_use_bf16(device) else torch.float32
    return face, motion


# ---- the loaded bundle ----------------------------------------------------------------------------
@dataclass
class PlaymateModels:
    """What LoadPlaymateModels returns (PLAYMATE_MODELS)."""
    engine: FaceEngine
    motion: MotionBackend | None              # any backend (motion/backend.py), or None (pose-only graphs)
    cropper: FaceCropper
    patcher: object
    info: dict = field(default_factory=dict)

    def ready(self) -> "PlaymateModels":
        """Put the weights on the compute device (ComfyUI may have offloaded them) and return self."""
        mm.load_models_gpu([self.patcher], force_full_load=True)
        self.engine.device = self.patcher.load_device
        return self

    def motion_backend(self) -> MotionBackend:
        if self.motion is None:
            raise ValueError("no motion model: choose a checkpoint as motion_model in Load Playmate Models (files "
                             "in models/playmate)")
        return self.motion


class _Nets(torch.nn.Module):
    """A container so ComfyUI's memory manager sees (and can offload) every network at once."""

    def __init__(self, **nets):
        super().__init__()
        for name, net in nets.items():
            if net is not None:
                self.add_module(name, net)


_CACHE: "OrderedDict[tuple, PlaymateModels]" = OrderedDict()     # one set: a new set replaces the old
_LOCK = threading.Lock()


def _stamp(path: Path) -> tuple:
    """(path, newest mtime below it): a changed file on disk reloads."""
    if path.is_file():
        return str(path), path.stat().st_mtime_ns
    if path.is_dir():
        return str(path), max((p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()), default=0)
    return str(path), 0


def load_models(liveportrait: str, motion_model: str, emotion_model: str, audio_encoder: str, cropper: str,
                device: str, precision: str) -> PlaymateModels:
    """Load (or reuse) everything one Playmate graph needs; cached across prompts by files + options."""
    lp_folder, animal = resolve_liveportrait(liveportrait)
    motion_file = None if motion_model == NONE else resolve_model_file(motion_model)
    emotion_file = None if emotion_model == NONE else resolve_model_file(emotion_model)
    motion_files = [f for f in (motion_file, emotion_file) if f is not None]
    enc_folder = resolve_encoder(audio_encoder) if motion_file is not None else None
    dev = pick_device(device)
    face_dtype, motion_dtype = pick_dtypes(dev, precision)
    insight_root = folder_roots("insightface")[0]
    key = (_stamp(lp_folder), animal, tuple(_stamp(f) for f in motion_files),
           _stamp(enc_folder) if enc_folder else None, cropper, str(dev), str(face_dtype), str(motion_dtype))
    t0 = time.perf_counter()
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            log.info("Playmate models reused from the cache in %.3f s (no reload)", time.perf_counter() - t0)
            return _CACHE[key]
        _CACHE.clear()                                        # drop the old set before loading a new one
        mm.soft_empty_cache()
        offload = mm.unet_offload_device()
        # Built on the compute device; ComfyUI's memory manager may move them to `offload` between
        # prompts, and PlaymateModels.ready() brings them back before each use.
        engine = load_face_engine(lp_folder, device=dev, dtype=face_dtype, animal=animal)
        motion = None
        if motion_files:                 # the core recognises the kind and checks every backend rule
            motion = load_motion_backend(motion_file, emotion=emotion_file, audio_encoder=enc_folder, device=dev,
                                         dtype=motion_dtype)
        nets = _Nets(F=engine.F, M=engine.M, S=engine.S, W=engine.warp_net, G=engine.decoder, motion=motion)
        patcher = comfy.model_patcher.ModelPatcher(nets, load_device=dev, offload_device=offload)
        crop = FaceCropper(backend=cropper, insightface_root=str(insight_root / "models"))
        caps = motion.capabilities if motion is not None else None
        info = {"liveportrait": f"{lp_folder}{' (animal)' if animal else ''}",
                "backend": caps.kind if caps else None, "motion": [str(f) for f in motion_files],
                "audio_encoder": str(enc_folder) if enc_folder else None,
                "trained": caps.trained if caps else None, "cropper": cropper,
                "device": str(dev), "dtypes": (str(face_dtype), str(motion_dtype))}
        models = PlaymateModels(engine, motion, crop, patcher, info)
        _CACHE[key] = models
        log.info("Playmate models loaded in %.2f s: %s", time.perf_counter() - t0, info)
        return models


# ---- errors ---------------------------------------------------------------------------------------
_USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, MemoryError, RuntimeError)


@contextlib.contextmanager
def named_errors(node: str):
    """Prefix user-facing errors with the node's display name, so /history and the UI say which node
    to fix. The exception type is kept; ComfyUI's interruption (a plain Exception) passes through."""
    try:
        yield
    except _USER_ERRORS as exc:
        if str(exc).startswith(node):
            raise
        try:
            renamed = type(exc)(f"{node}: {exc}")
        except Exception:                                    # an exception type with another signature
            raise exc
        raise renamed.with_traceback(exc.__traceback__) from exc


# ---- progress and interruption --------------------------------------------------------------------
def check_interrupted() -> None:
    mm.throw_exception_if_processing_interrupted()


def progress() -> callable:
    """A core callback(done, total): updates a ComfyUI ProgressBar and honours Cancel (raises)."""
    state: dict = {}

    def callback(done: int, total: int) -> None:
        mm.throw_exception_if_processing_interrupted()
        bar = state.get("bar")
        if bar is None or state.get("total") != total:
            bar = state["bar"] = comfy.utils.ProgressBar(total)
            state["total"] = total
        bar.update_absolute(done, total)

    return callback


# ---- files ----------------------------------------------------------------------------------------
def output_path(prefix: str, suffix: str, width: int = 0, height: int = 0) -> tuple:
    """A fresh numbered path in ComfyUI's output folder -> (full path, filename, subfolder)."""
    full_dir, name, counter, subfolder, _ = folder_paths.get_save_image_path(
        prefix, folder_paths.get_output_directory(), width, height)
    filename = f"{name}_{counter:05}_{suffix}"
    return os.path.join(full_dir, filename), filename, subfolder


def input_files(suffix: str) -> list:
    """Files under ComfyUI's input folder (recursively) whose names end with `suffix`."""
    root = Path(folder_paths.get_input_directory())
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob(f"*{suffix}") if p.is_file())


def input_path(name: str) -> Path:
    return Path(folder_paths.get_annotated_filepath(name))


def available_ram() -> int | None:
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except Exception:                                          # pragma: no cover - psutil ships with ComfyUI
        return None
