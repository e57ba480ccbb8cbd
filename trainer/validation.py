"""Held-out validation of a motion stage: loss on fixed windows + weight-free motion metrics + a preview.

Clips of the held-out identities (data.split_identities; val.fraction / val.identities) are never
trained on. Every val.every steps (and at the end) rank 0 evaluates the EMA model on the first
val.clips of them:
    val/loss            the stage's training loss on one fixed window per clip (fixed seeds: comparable
                        between evaluations)
    val/lip_r, val/lip_r_gt   generated (and ground-truth) mouth opening vs audio energy, best lag
                        (needs "energy_db" in the audio files, written by prepare_data)
    val/jerk, val/jerk_gt     mean |third difference| of the expression (smoothness)
    val/seam            seam score at the window boundaries (~1 = no visible seam)
    val/pose_std, val/pose_std_gt   mean std of pitch/yaw/roll in degrees (head-motion spread)
Generation: the first val.seconds of each clip, its own first frame as the source, audio features from
the dataset, val.steps sampling steps, eta 1, w_a 1.5, seed 0 (stage 2: the clip's label when it has one).
The first clip's motion is drawn with playmate_core.pipeline.preview to out/val/step_<step>.png.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from playmate_core.eval import motion_metrics as mm
from playmate_core.motion.layout import vector_to_motion

from .common import collate, rng_state, set_rng_state
from .data import PREV, WINDOW, MotionWindows

log = logging.getLogger("playmate.trainer")
FPS = 25


def _audio(clip, n: int) -> tuple[torch.Tensor, np.ndarray | None]:
    """First n frames of the clip's features (n,L,D) float32 and energy (n,) dB or None."""
    from safetensors import safe_open
    with safe_open(str(clip.audio_path), framework="pt") as f:
        feats = f.get_slice("features")[:n].float()
        energy = f.get_tensor("energy_db")[:n].numpy() if "energy_db" in f.keys() else None
    return feats, energy


def _lip_r(values: np.ndarray, axis, energy: np.ndarray) -> float:
    return mm.lagged_correlation(axis(values), energy)["best_r"]


class Validator:
    """validator(model with EMA weights, step, out dir) -> {"val/...": value}."""

    def __init__(self, clips: list, dataset: MotionWindows, loss_fn, cfg, device: torch.device):
        self.clips = clips[:cfg.val.clips]
        self.windows = MotionWindows([c for c in self.clips if c.frames >= PREV + WINDOW], dataset.stats)
        self.loss_fn, self.cfg, self.device = loss_fn, cfg, device
        log.info("validation: %d held-out clip(s) of %d identities, every %d steps", len(self.clips),
                 len({c.identity for c in clips}), cfg.val.every)

    @torch.no_grad()
    def __call__(self, model, step: int, out: Path) -> dict:
        """Leaves every global RNG as it found it, so validation never changes the training run."""
        saved = rng_state()
        try:
            return self._evaluate(model.to(self.device), step, out)
        finally:
            set_rng_state(saved)

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
        log.info("validation at step %d: %s", step, " ".join(f"{k[4:]} {v:.4g}" for k, v in scores.items()))
        return scores

    def _clip(self, model, clip, step: int, preview_dir: Path | None) -> dict:
        from playmate_core.motion import generate_motion
        n = min(clip.frames, int(self.cfg.val.seconds * FPS))
        feats, energy = _audio(clip, n)
        source = vector_to_motion(clip.motion[:1], clip.kp)
        emotion = None
        if model.has_emotion and clip.emotion < len(model.emotion_labels):
            emotion = model.emotion_labels[clip.emotion]
        seq = generate_motion(model, features=feats, source_motion=source, emotion=emotion, steps=self.cfg.val.steps,
                              eta=1.0, seed=0, w_a=1.5)
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
