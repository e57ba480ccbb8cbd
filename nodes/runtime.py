"""The one adapter between ComfyUI's runtime and playmate_core.

Everything ComfyUI-specific that is not a node schema lives here: every entrance from a prompt (model
folders through folder_paths so extra_model_paths.yaml works, names, combos, media bounds: entrances.py,
re-exported here), the model cache, device / precision / offload through
comfy.model_management (ModelPatcher), ProgressBar and interruption, and output paths.
Nodes stay thin: convert types, make one core call, return.
"""
from __future__ import annotations

import logging
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

from ..playmate_core.crop import FaceCropper
from ..playmate_core.face.engine import FaceEngine, load_face_engine
from ..playmate_core.motion.backend import MotionBackend, load_motion_backend
from ..playmate_core.motion.precision import auto_cpu_motion_dtype
from . import model_setup
from .entrances import (FOLDERS, NONE, batch_image, check_combos, checked_audio, emotion_choices,  # noqa: F401
                        encoder_choices, folder_roots, input_files, liveportrait_choices, motion_choices, output_path,
                        register_folders, resolve_encoder, resolve_input_file, resolve_liveportrait,
                        resolve_model_file, setting, staging_dir)

log = logging.getLogger("playmate")

# ---- device and precision -------------------------------------------------------------------------
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
CHOICES = {"cropper": ("mediapipe", "insightface"), "device": ("auto", "cpu"), "precision": ("auto", *_DTYPES),
           "download": model_setup.DOWNLOAD_CHOICES}


def pick_device(choice: str) -> torch.device:
    return torch.device("cpu") if choice == "cpu" else mm.get_torch_device()


def pick_dtypes(device: torch.device, precision: str) -> tuple:
    """-> (face engine dtype, motion model dtype). auto: fp16 renderer on CUDA/MPS (LivePortrait's
    own default), bf16 motion model where supported (GPUs, and CPUs with native bf16 matrix units:
    playmate_core.motion.precision); otherwise fp32."""
    if precision != "auto":
        dtype = _DTYPES[precision]
        if device.type == "cpu" and dtype != torch.float32:
            raise ValueError(f"precision {precision} is not supported on the CPU (Playmate Load Models -> precision: "
                             f"choose fp32 or auto, or device gpu)")
        return dtype, dtype
    if device.type == "cpu":                     # bf16 motion model where the CPU has native bf16 (AMX)
        return torch.float32, auto_cpu_motion_dtype()
    if device.type == "mps":
        return torch.float16, torch.float32
    face = torch.float16 if mm.should_use_fp16(device) else torch.float32
    motion = torch.bfloat16 if mm.should_use_bf16(device) else torch.float32
    return face, motion


def validate_model_choices(liveportrait=None, motion_model=None, emotion_model=None, audio_encoder=None,
                           cropper=None, device=None, precision=None, download=None) -> bool | str:
    """Playmate Load Models' validate_inputs: 'auto' or a name that resolves inside its folders (a public
    file not installed says how to get it), every combo listed."""
    try:
        if liveportrait is not None:
            resolve_liveportrait(liveportrait)
        for slot, value in (("motion_model", motion_model), ("emotion_model", emotion_model),
                            ("audio_encoder", audio_encoder)):
            if value is not None:
                model_setup.check_name(slot, value, download)
        for slot, value in (("cropper", cropper), ("device", device), ("precision", precision),
                            ("download", download)):
            if value is not None and value not in CHOICES[slot]:
                raise ValueError(f"{slot} '{value}' is not one of the valid values: {', '.join(CHOICES[slot])}")
    except (ValueError, FileNotFoundError) as exc:
        return f"Playmate Load Models: {exc}"
    return True


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
            raise ValueError("no motion model: choose a checkpoint as motion_model in Playmate Load Models (files "
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
                device: str, precision: str, download: str | None = None) -> PlaymateModels:
    """Load (or reuse) everything one Playmate graph needs; cached across prompts by files + options.
    'auto' names are decided over the installed files (model_setup.settle_models; download 'if missing'
    fetches the public files only when nothing usable is installed). info["text"]: what the user got."""
    problem = validate_model_choices(cropper=cropper, device=device, precision=precision)
    if problem is not True:
        raise ValueError(problem)
    settled = model_setup.settle_models(liveportrait, motion_model, emotion_model, audio_encoder, download)
    lp_folder, animal = settled.liveportrait, settled.animal
    motion_file, emotion_file, enc_folder = settled.motion, settled.emotion, settled.encoder
    motion_files = [f for f in (motion_file, emotion_file) if f is not None]
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
            model_setup.say(_CACHE[key].info["text"])
            return _CACHE[key]
        _CACHE.clear()                                        # drop the old set before loading a new one
        mm.soft_empty_cache()
        offload = mm.unet_offload_device()
        model_setup.say(f"Loading models: {settled.motion.name if settled.motion else 'no motion model'}")
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
                "trained": caps.trained if caps else None, "warnings": list(getattr(motion, "warnings", ())),
                "cropper": cropper,
                "device": str(dev), "dtypes": (str(face_dtype), str(motion_dtype)),
                "choice": settled.choice.source, "downloaded": [str(p) for p, _ in settled.downloaded]}
        info["text"] = model_setup.describe(settled, caps, tuple(info["warnings"]), engine.cfg)
        models = PlaymateModels(engine, motion, crop, patcher, info)
        _CACHE[key] = models
        log.info("Playmate models loaded in %.2f s: %s", time.perf_counter() - t0, info)
        model_setup.say(info["text"])
        return models


# ---- errors ---------------------------------------------------------------------------------------
_USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, MemoryError, RuntimeError)


@contextlib.contextmanager
def named_errors(node: str):
    """Prefix every error with the node's display name, so /history and the UI say which node to fix.
    The user-facing types are kept; any other error (a third-party decoder's, say) becomes a RuntimeError
    that names its type. ComfyUI's interruption passes through untouched."""
    try:
        yield
    except mm.InterruptProcessingException:
        raise
    except Exception as exc:
        if str(exc).startswith(node):
            raise
        renamed = None
        if isinstance(exc, _USER_ERRORS):
            try:
                renamed = type(exc)(f"{node}: {exc}")
            except Exception:                                # an exception type with another signature
                renamed = None
        if renamed is None:
            renamed = RuntimeError(f"{node}: {type(exc).__name__}: {exc}")
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
def available_ram() -> int | None:
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except Exception:                                          # pragma: no cover - psutil ships with ComfyUI
        return None
