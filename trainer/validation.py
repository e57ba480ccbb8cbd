"""Held-out validation of a motion stage: loss on fixed windows + weight-free motion metrics + a preview,
emotion accuracy (stage 2) and a rendered video (with face weights).

Clips of the held-out identities (`holdout`: val.identities, or val.fraction of the identities when the
data has at least val.min_identities of them) are never trained on. Every val.every steps (and at the
end) rank 0 evaluates the EMA model on the first val.clips of them:
    val/loss            the stage's training loss on one fixed window per clip (fixed seeds: comparable
                        between evaluations)
    val/lip_r, val/lip_r_gt   generated (and ground-truth) mouth opening vs audio energy, best lag
                        (needs "energy_db" in the audio files, written by prepare_data)
    val/jerk, val/jerk_gt     mean |third difference| of the expression (smoothness)
    val/seam            seam score at the window boundaries (~1 = no visible seam)
    val/pose_std, val/pose_std_gt   mean std of pitch/yaw/roll in degrees (head-motion spread)
    val/emotion_acc, val/emotion_acc_gt   stage 2 (trainer/val_emotion.py)
    perf/val_s          seconds this evaluation took (excluded from perf/samples_per_s)
Generation: the first val.seconds of each clip, its own first frame as the source, audio features from
the dataset, val.steps sampling steps, eta 1, w_a 1.5, seed 0 (stage 2: the clip's label when it has one).
The first clip's motion is drawn with playmate_core.pipeline.preview to out/val/step_<step>.png; with
face weights, every val.video_every evaluations a video out/val/step_<step>.mp4 (trainer/val_video.py).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from playmate_core.eval import motion_metrics as mm
from playmate_core.motion.layout import vector_to_motion

from .common import collate, rng_state, set_rng_state
from .data import PREV, WINDOW, MotionWindows, split_identities

log = logging.getLogger("playmate.trainer")
FPS = 25


def holdout(clips: list, val) -> tuple[list, list]:
    """-> (train clips, held-out clips) for a ValConfig. Named identities are always held out; a fraction
    only when the data has >= val.min_identities identities (else: a warning, no validation, all trained)."""
    if val.identities or val.fraction <= 0:
        return split_identities(clips, 0.0, val.identities)
    n = len({c.identity for c in clips})
    if n < val.min_identities:
        log.warning("validation is OFF: val.fraction=%g holds out whole identities, but the data has only %d "
                    "(fewer than val.min_identities=%d), so one held-out person would take ~%.0f %% of the data "
                    "from training. Training on all clips. To validate anyway name who to hold out "
                    "(--set val.identities=NAME), or lower val.min_identities; val.fraction=0 silences this",
                    val.fraction, n, val.min_identities, 100 / max(n, 1))
        return clips, []
    return split_identities(clips, val.fraction)


def make_validator(dataset: MotionWindows, loss_fn, cfg, device: torch.device, model) -> "Validator | None":
    """The stage's validation (rank 0 only), or None when nothing is held out: the base metrics, plus the
    emotion accuracy for a model with an emotion module and the video when cfg.face_weights is given."""
    if not dataset.val_clips:
        return None
    probes = []
    if model.has_emotion and cfg.val.emotion_clips > 0:
        from .val_emotion import EmotionAccuracy
        probes.append(EmotionAccuracy(dataset.clips, dataset.val_clips, cfg.val))
    if cfg.face_weights and cfg.val.video_every > 0:
        from .val_video import ValidationVideo
        probes.append(ValidationVideo(dataset.val_clips[0], dataset.provenance["path"], cfg, device))
    return Validator(dataset.val_clips, dataset, loss_fn, cfg, device, probes)


def clip_audio(clip, n: int) -> tuple[torch.Tensor, np.ndarray | None]:
    """First n frames of the clip's features (n,L,D) float32 and energy (n,) dB or None."""
    from safetensors import safe_open
    with safe_open(str(clip.audio_path), framework="pt") as f:
        feats = f.get_slice("features")[:n].float()
        energy = f.get_tensor("energy_db")[:n].numpy() if "energy_db" in f.keys() else None
    return feats, energy


def _lip_r(values: np.ndarray, axis, energy: np.ndarray) -> float:
    return mm.lagged_correlation(axis(values), energy)["best_r"]


class Validator:
    """validator(model with EMA weights, step, out dir) -> {"val/...": value}.

    probes: further callables (model, step, out) -> {name: value} run after the base metrics under the
    same RNG protection (trainer/val_emotion.py, trainer/val_video.py).
    """

    def __init__(self, clips: list, dataset: MotionWindows, loss_fn, cfg, device: torch.device, probes=()):
        self.clips = clips[:cfg.val.clips]
        self.windows = MotionWindows([c for c in self.clips if c.frames >= PREV + WINDOW], dataset.stats)
        self.loss_fn, self.cfg, self.device, self.probes = loss_fn, cfg, device, list(probes)
        log.info("validation: %d held-out clip(s) of %d identities, every %d steps", len(self.clips),
                 len({c.identity for c in clips}), cfg.val.every)

    @torch.no_grad()
    def __call__(self, model, step: int, out: Path) -> dict:
        """Leaves every global RNG as it found it, so validation never changes the training run."""
        saved, t0 = rng_state(), time.perf_counter()
        try:
            model = model.to(self.device)
            scores = self._evaluate(model, step, out)
            for probe in self.probes:
                scores.update(probe(model, step, out))
        finally:
            set_rng_state(saved)
        scores["perf/val_s"] = time.perf_counter() - t0
        log.info("validation at step %d: %s", step, " ".join(f"{k.split('/')[1]} {v:.4g}" for k, v in scores.items()))
        return scores

    def _evaluate(self, model, step: int, out: Path) -> dict:
        from .loop import EpsilonNet
        scores: dict = {}
        if len(self.windows):
            batch = collate([self.windows[(i, 1000 + i)] for i in range(len(self.windows))])
            loss = self.loss_fn(EpsilonNet(model), batch, torch.Generator().manual_seed(0), self.device)
            scores["val/loss"] = float(loss)
        rows = [self._clip(model, clip, step, out if i == 0 else None) for i, clip in enumerate(self.clips)]
        for key in sorted({k for r in rows for k in r}):
            values = [r[key] for r in rows if key in r and np.isfinite(r[key])]
            if values:
                scores[key] = float(np.mean(values))
        return scores

    def _clip(self, model, clip, step: int, preview_dir: Path | None) -> dict:
        from playmate_core.motion import generate_motion
        n = min(clip.frames, int(self.cfg.val.seconds * FPS))
        feats, energy = clip_audio(clip, n)
        source = vector_to_motion(clip.motion[:1], clip.kp)
        seq = generate_motion(model, features=feats, source_motion=source, emotion=clip_label(model, clip),
                              steps=self.cfg.val.steps, eta=1.0, seed=0, w_a=1.5)
        gen, gt = seq.values.numpy(), clip.motion[:n].numpy()
        row = {"val/jerk": mm.jitter(gen[:, :63])["jerk"], "val/jerk_gt": mm.jitter(gt[:, :63])["jerk"],
               "val/pose_std": float(gen[:, 63:66].std(axis=0).mean()),
               "val/pose_std_gt": float(gt[:, 63:66].std(axis=0).mean())}
        seams = mm.window_seams(n)
        if seams and seq.normalised is not None:
            row["val/seam"] = mm.seam_score(seq.normalised.numpy(), seams)
        if energy is not None and n > 10:
            axis = mm.fit_mouth_axis(gt, energy)
            row["val/lip_r"], row["val/lip_r_gt"] = _lip_r(gen, axis, energy), _lip_r(gt, axis, energy)
        if preview_dir is not None:
            self._preview(seq, preview_dir / "val" / f"step_{step:07d}.png")
        return row

    @staticmethod
    def _preview(seq, path: Path) -> None:
        import cv2
        from playmate_core.pipeline.preview import draw_motion_preview
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(draw_motion_preview(seq), cv2.COLOR_RGB2BGR))


def clip_label(model, clip) -> str | None:
    """The clip's emotion label for a model with an emotion module (None: no module or no label)."""
    if model.has_emotion and clip.emotion < len(model.emotion_labels):
        return model.emotion_labels[clip.emotion]
    return None
