"""Motion-model checkpoints: safetensors with self-describing JSON metadata (motion-model.md §2.9).

A file holds one or both parts, under fixed key prefixes:
    stage1   `denoiser.*`  + metadata: denoiser_config, stats, motion_layout, diffusion, window, fps,
                           sample_rate, audio, stage1_trained
    emotion  `emotion.*`   + metadata: emotion_config, emotion_labels, intensity_levels,
                           stage1_config (the model it was trained on), emotion_trained
Common metadata: playmate_format = "motion", format_version, parts, training (JSON dict),
provenance (JSON dict: dataset manifest hash, audio encoder name + hash, face weights hash, ...;
written by the trainer, {} = unknown). Fingerprints: `stage1_sha256` (of the stage-1 tensors and
statistics, see `stage1_fingerprint`) with the stage-1 part; `emotion_stage1_sha256` (the stage 1 an
emotion module was trained on) with the emotion part. Files written before these keys existed load
as before, with their provenance unknown.

Loading is strict: a file that is not a motion checkpoint, is truncated, has no normalisation
statistics, or whose config does not match its tensors (missing/unexpected key, wrong shape) is
refused with a CheckpointError naming the file and the problem.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Sequence

import torch

from ...loading import CheckpointError, load_strict
from ...audio.encoder import CONFIG_FILE, WEIGHT_FILES
from .denoiser import MotionDenoiser, MotionDenoiserConfig
from .emotion import EmotionConfig, EmotionModule
from ..layout import MotionStats, layout_json
from .model import MotionModel
from .scheduler import DiffusionConfig
from .windows import OVERLAP, PREV_NOISE_STEPS

log = logging.getLogger("playmate")

FORMAT, FORMAT_VERSION = "motion", "1"
# what generate_motion and the nodes use by default (README: eta = 1, ancestral sampling)
INFERENCE_DEFAULTS = {"sampler": "ddim", "steps": 25, "eta": 1.0, "w_a": 1.5, "w_e": 1.5}
PREFIX = {"stage1": "denoiser.", "emotion": "emotion."}
UNKNOWN = "unknown"
_ENCODER_CACHE: dict = {}


def tensors_sha256(state: dict, extra: str = "") -> str:
    """sha256 over the sorted tensor names, dtypes, shapes and bytes (+ `extra` text): the same for the
    same weights whatever file or layout holds them."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    h.update(extra.encode())
    return h.hexdigest()


def stage1_fingerprint(denoiser_state: dict, stats_json: str) -> str:
    """Identity of a stage-1 model: its denoiser tensors and normalisation statistics."""
    return tensors_sha256(denoiser_state, stats_json)


def audio_encoder_fingerprint(folder: str | Path) -> dict:
    """{"name": folder name (model_type), "sha256": of config.json + the weights file's bytes}. Copies of
    the same files give the same hash on any machine; cached per (path, size, mtime) in this process."""
    folder = Path(folder)
    weights = next((folder / n for n in WEIGHT_FILES if (folder / n).is_file()), None)
    if weights is None or not (folder / CONFIG_FILE).is_file():
        return {"name": folder.name, "sha256": UNKNOWN}
    st = weights.stat()
    key = (str(weights.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _ENCODER_CACHE:
        h = hashlib.sha256((folder / CONFIG_FILE).read_bytes())
        with open(weights, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        model_type = json.loads((folder / CONFIG_FILE).read_text()).get("model_type", "?")
        _ENCODER_CACHE[key] = {"name": f"{folder.name} ({model_type})", "sha256": h.hexdigest()}
    return dict(_ENCODER_CACHE[key])


def save_motion_checkpoint(path: str | Path, model: MotionModel, part: str = "all",
                           trained: bool | None = None, training: dict | None = None,
                           provenance: dict | None = None) -> Path:
    """Write `part` ('stage1', 'emotion' or 'all') of `model` to a .safetensors file.

    trained: overrides the model's own flags for the written parts (the trainer passes True).
    training: JSON-able training metadata (steps, frame counts, ...).
    provenance: where the weights come from (dataset hash, audio encoder, ...); default: the model's own.
    An emotion part records the fingerprint of the stage 1 it sits on (model.denoiser, as in memory).
    """
    from safetensors.torch import save_file
    parts = {"all": ["stage1", "emotion"] if model.has_emotion else ["stage1"],
             "stage1": ["stage1"], "emotion": ["emotion"]}.get(part)
    if parts is None:
        raise ValueError(f"part must be 'stage1', 'emotion' or 'all', got {part!r}")
    if "emotion" in parts and not model.has_emotion:
        raise ValueError("this model has no emotion module to save; build it with emotion=True")
    meta = {"playmate_format": FORMAT, "format_version": FORMAT_VERSION, "parts": json.dumps(parts),
            "training": json.dumps(training if training is not None else model.meta.get("training", {})),
            "provenance": json.dumps(provenance if provenance is not None else model.meta.get("provenance", {}))}
    tensors = {}
    stage1_id = None
    if "stage1" in parts or "emotion" in parts:
        stage1_id = stage1_fingerprint(model.denoiser.state_dict(), model.stats.to_json())
    if "stage1" in parts:
        cfg = model.config
        meta.update(denoiser_config=cfg.to_json(), stats=model.stats.to_json(), motion_layout=layout_json(),
                    diffusion=model.diffusion.to_json(), fps=str(model.fps),
                    sample_rate=str(model.meta["sample_rate"]),
                    window=json.dumps({"frames": cfg.window, "prev": cfg.prev_frames, "overlap": OVERLAP,
                                       "prev_noise_steps": PREV_NOISE_STEPS}),
                    inference_defaults=json.dumps(INFERENCE_DEFAULTS), stage1_sha256=stage1_id,
                    audio=json.dumps(model.meta.get("audio", {"layers": cfg.audio_layers, "dim": cfg.audio_dim})),
                    stage1_trained=json.dumps(bool(model.meta["stage1_trained"] if trained is None else trained)))
        tensors.update({PREFIX["stage1"] + k: v for k, v in model.denoiser.state_dict().items()})
    if "emotion" in parts:
        meta.update(emotion_config=model.emotion.cfg.to_json(), stage1_config=model.config.to_json(),
                    emotion_labels=json.dumps(list(model.emotion_labels)), emotion_stage1_sha256=stage1_id,
                    intensity_levels=json.dumps(list(model.meta["intensity_levels"])),
                    emotion_trained=json.dumps(bool(model.meta["emotion_trained"] if trained is None else trained)))
        tensors.update({PREFIX["emotion"] + k: v for k, v in model.emotion.state_dict().items()})
    path = Path(path)
    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
    return path


def read_motion_checkpoint(path: str | Path) -> tuple:
    """-> (tensors dict, metadata dict of str) with format checks; raises CheckpointError."""
    from safetensors import safe_open
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motion checkpoint '{path}' does not exist; put the Playmate motion "
                                f".safetensors file there (ComfyUI: models/playmate/)")
    from ..joyvasa.checkpoint import looks_like_joyvasa
    if looks_like_joyvasa(path):
        raise CheckpointError(f"'{path}' is a JoyVASA motion generator, not a Playmate motion checkpoint; load it "
                              f"in the JoyVASA slot (playmate_core.motion.joyvasa.load_joyvasa) with motion_template.pkl")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the same thing to the user
        raise CheckpointError(f"cannot read motion checkpoint '{path}' ({type(exc).__name__}: {exc}); the file is "
                              f"truncated or corrupt: copy or download it again") from exc
    if meta.get("playmate_format") != FORMAT:
        raise CheckpointError(f"'{path}' is not a Playmate motion checkpoint (no playmate_format='motion' metadata); "
                              f"write motion checkpoints with save_motion_checkpoint")
    return tensors, meta


def _json(meta: dict, key: str, path: Path, fix: str):
    if key not in meta:
        raise CheckpointError(f"'{path}' has no '{key}' metadata; {fix}")
    try:
        return json.loads(meta[key])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"'{path}': metadata '{key}' is not valid JSON ({exc})") from exc


def _config(cls, meta: dict, key: str, path: Path):
    data = _json(meta, key, path, "re-export the file with save_motion_checkpoint")
    try:
        return cls.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"'{path}': {key} does not describe a valid {cls.__name__} ({exc})") from exc


def _part_state(tensors: dict, part: str) -> dict:
    prefix = PREFIX[part]
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


def _load_stage1(path: Path, tensors: dict, meta: dict) -> tuple:
    cfg = _config(MotionDenoiserConfig, meta, "denoiser_config", path)
    if "stats" not in meta:
        raise CheckpointError(f"'{path}' holds a stage-1 motion model but no normalisation statistics ('stats' "
                              f"metadata); without them the motion cannot be de-normalised. Re-export it with "
                              f"save_motion_checkpoint from the trainer's final checkpoint")
    try:
        stats = MotionStats.from_dict(_json(meta, "stats", path, ""))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"'{path}': invalid normalisation statistics ({exc})") from exc
    diffusion = _config(DiffusionConfig, meta, "diffusion", path)
    denoiser = MotionDenoiser(cfg)
    load_strict(denoiser, _part_state(tensors, "stage1"), slot="motion stage 1 (denoiser_config)", path=path,
                hint=" The tensors do not match denoiser_config: the file was edited or written by other code.")
    info = {"stage1_trained": bool(_json(meta, "stage1_trained", path, "re-export the file")),
            "fps": int(meta.get("fps", 25)), "sample_rate": int(meta.get("sample_rate", 16000)),
            "audio": json.loads(meta.get("audio", "{}")), "training": json.loads(meta.get("training", "{}")),
            "provenance": json.loads(meta.get("provenance", "{}")),
            "stage1_sha256": meta.get("stage1_sha256") or stage1_fingerprint(_part_state(tensors, "stage1"),
                                                                             stats.to_json())}
    return denoiser, stats, diffusion, info


def _load_emotion(path: Path, tensors: dict, meta: dict) -> tuple:
    cfg = _config(EmotionConfig, meta, "emotion_config", path)
    module = EmotionModule(cfg)
    load_strict(module, _part_state(tensors, "emotion"), slot="motion emotion module (emotion_config)", path=path,
                hint=" The tensors do not match emotion_config: the file was edited or written by other code.")
    labels = _json(meta, "emotion_labels", path, "the label order must be stored with the emotion module")
    if len(labels) != cfg.num_emotions:
        raise CheckpointError(f"'{path}': {len(labels)} emotion labels stored for {cfg.num_emotions} embeddings")
    info = {"emotion_trained": bool(_json(meta, "emotion_trained", path, "re-export the file")),
            "emotion_labels": [str(x).lower() for x in labels],
            "intensity_levels": _json(meta, "intensity_levels", path, "re-export the file"),
            "stage1_config": meta.get("stage1_config"),
            "emotion_stage1_sha256": meta.get("emotion_stage1_sha256", UNKNOWN),
            "emotion_provenance": json.loads(meta.get("provenance", "{}"))}
    return module, info


def load_emotion_module(path: str | Path) -> EmotionModule:
    """The emotion module of a checkpoint holding one (an emotion or a full file), without its stage 1."""
    path = Path(path)
    tensors, meta = read_motion_checkpoint(path)
    if "emotion" not in _json(meta, "parts", path, "re-export the file with save_motion_checkpoint"):
        raise CheckpointError(f"'{path}' holds no emotion module; pass a stage-2 emotion or full checkpoint")
    return _load_emotion(path, tensors, meta)[0]


def check_emotion_stage1(emotion_path, trained_on: str, stage1_path, stage1_id: str) -> None:
    """Refuse an emotion module trained on another stage 1 (unknown = a file from before fingerprints)."""
    if trained_on in (None, UNKNOWN) or trained_on == stage1_id:
        return
    raise CheckpointError(f"emotion module '{emotion_path}' was trained on the stage-1 model {trained_on[:16]}, but "
                          f"'{stage1_path}' is stage-1 model {stage1_id[:16]}; an emotion module only works on its own "
                          f"stage 1. Load the stage-1 checkpoint it was trained with (its run folder's --stage1 "
                          f"file, or motion_full.safetensors from the same stage-2 run), or train stage 2 again on "
                          f"this stage 1 (python -m trainer.stage2_emotion --stage1 {stage1_path} ...)")


def load_motion_model(paths: str | Path | Sequence, device: str | torch.device = "cpu",
                      dtype: torch.dtype = torch.float32) -> MotionModel:
    """Load a MotionModel from one file (stage 1, optionally with the emotion module) or from
    [stage1_file, emotion_file]. dtype: float32 (default) or bfloat16 (CPU and GPU), float16 (GPU)."""
    from ...face.engine import resolve_device
    device = resolve_device(device)
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"dtype {dtype} is not supported; use torch.float32, torch.bfloat16 or torch.float16")
    if dtype == torch.float16 and device.type == "cpu":
        raise ValueError("float16 is slow or unsupported on the CPU; use torch.bfloat16 or torch.float32")
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not 1 <= len(files) <= 2:
        raise ValueError(f"expected one motion checkpoint or [stage1, emotion], got {len(files)} paths")
    found: dict = {}
    for path in files:
        tensors, meta = read_motion_checkpoint(path)
        for part in _json(meta, "parts", path, "re-export the file with save_motion_checkpoint"):
            if part not in PREFIX:
                raise CheckpointError(f"'{path}': unknown part {part!r}; expected {sorted(PREFIX)}")
            if part in found:
                raise CheckpointError(f"two files hold the {part} part ('{found[part][0]}' and '{path}'); "
                                      f"pass one of each")
            found[part] = (path, tensors, meta)
    if "stage1" not in found:
        raise CheckpointError(f"none of {[str(f) for f in files]} holds the stage-1 motion model; pass the stage-1 "
                              f"file (optionally followed by the emotion file)")
    denoiser, stats, diffusion, meta = _load_stage1(*found["stage1"])
    module = None
    if "emotion" in found:
        module, emo_meta = _load_emotion(*found["emotion"])
        stored = emo_meta.pop("stage1_config")
        if stored and json.loads(stored) != json.loads(denoiser.cfg.to_json()):
            log.warning("emotion module '%s' was trained on a stage-1 model with a different config",
                        found["emotion"][0])
        check_emotion_stage1(found["emotion"][0], emo_meta["emotion_stage1_sha256"], found["stage1"][0],
                             meta["stage1_sha256"])
        meta.update(emo_meta)
    model = MotionModel(denoiser, module, stats, diffusion, meta).to(device, dtype).eval()
    if not model.trained:
        log.warning("motion model %s is UNTRAINED (its metadata says so): generated motion is noise",
                    [str(f) for f in files])
    log.info("motion model loaded from %s (%s)", [str(f) for f in files], model.parameter_counts())
    return model
