"""Stage-2 validation: can the emotion module make a held-out person show a requested emotion?

    val/emotion_acc      share of generations classified as the emotion they were asked for
                         (chance = 1 / number of labels; logged with the classifier's labels)
    val/emotion_acc_gt   the same classifier on the held-out ground-truth clips that carry a label: the
                         most this metric can show on this data

Classifier: nearest centroid (playmate_core.eval.motion_metrics.NearestCentroid, as the learning
benchmark) of per-clip emotion features (motion_metrics.emotion_feature: the clip's mean expression
minus its identity's mean expression) of the labelled TRAINING clips, fitted once. Identity-centred
features need people filmed in several emotions (MEAD: every actor in all 8): when each person has one
emotion the centring removes it and val/emotion_acc_gt stays near chance, which says so.
Probe: for the first val.emotion_clips held-out clips (one per identity before a second of the same),
one window (80 frames) of the clip's audio is generated with EVERY label the classifier knows, all from
the same source: the identity's frame nearest its mean expression (a neutral-looking face, so the source
does not already show one emotion), val.steps steps, eta 1, w_a = w_e = 1.5, seed 0. A module that does
nothing gives the same expression for every label, hence chance accuracy.
Cost: emotion_clips x labels generations of one window, each with the pose-locked chains (two trunks).
"""
from __future__ import annotations

import logging

import numpy as np

from playmate_core.eval.motion_metrics import NearestCentroid, emotion_feature, expression_centre
from playmate_core.motion.layout import vector_to_motion
from playmate_core.motion.playmate.emotion import EMOTION_LABELS

from .data import WINDOW

log = logging.getLogger("playmate.trainer")
W_A = W_E = 1.5


def _by_identity(clips: list) -> dict:
    out: dict = {}
    for c in clips:
        out.setdefault(c.identity, []).append(c)
    return out


def identity_centres(clips: list) -> dict:
    """{identity: (63,) mean expression over all frames of its clips}."""
    return {who: expression_centre([c.motion.numpy() for c in group]) for who, group in _by_identity(clips).items()}


def neutral_frame(group: list, centre: np.ndarray) -> tuple:
    """(clip, frame index) of the frame whose expression is nearest the identity's mean expression."""
    dist = [((c.motion[:, :63].double().numpy() - centre) ** 2).sum(1) for c in group]      # per clip (N_i,)
    k = int(np.argmin([d.min() for d in dist]))
    return group[k], int(dist[k].argmin())


def round_robin(clips: list, n: int) -> list:
    """The first n clips taking one per identity in turn (identities in order of first appearance)."""
    groups = list(_by_identity(clips).values())
    order = [g[k] for k in range(max(map(len, groups))) for g in groups if k < len(g)]
    return order[:n]


def labelled(clips: list) -> list:
    return [c for c in clips if c.emotion < len(EMOTION_LABELS)]


class EmotionAccuracy:
    """probe(model, step, out) -> {"val/emotion_acc": ..., "val/emotion_acc_gt": ...} (see module doc)."""

    def __init__(self, train_clips: list, val_clips: list, val_cfg):
        self.cfg, self.classifier = val_cfg, None
        train = labelled(train_clips)
        classes = sorted({EMOTION_LABELS[c.emotion] for c in train})
        if len(classes) < 2:
            log.warning("val/emotion_acc is off: the training clips carry %d emotion label(s) (%s); a classifier "
                        "needs at least 2", len(classes), ", ".join(classes) or "none")
            return
        centres = identity_centres(train_clips)
        self.classifier = NearestCentroid(np.stack([emotion_feature(c.motion.numpy(), centres[c.identity])
                                                    for c in train]), [EMOTION_LABELS[c.emotion] for c in train])
        self.val_centres = identity_centres(val_clips)
        groups = _by_identity(val_clips)
        self.probes = [(c, *neutral_frame(groups[c.identity], self.val_centres[c.identity]))
                       for c in round_robin(val_clips, val_cfg.emotion_clips)]
        gt = labelled(val_clips)
        self.gt_acc = (self.classifier.accuracy(
            np.stack([emotion_feature(c.motion.numpy(), self.val_centres[c.identity]) for c in gt]),
            [EMOTION_LABELS[c.emotion] for c in gt])["accuracy"] if gt else None)
        log.info("val/emotion_acc: %d held-out clip(s) x %d labels (%s; chance %.3f); ground truth of %d labelled "
                 "held-out clip(s) classified %s", len(self.probes), len(classes), ", ".join(classes),
                 1 / len(classes), len(gt), "n/a" if self.gt_acc is None else f"{self.gt_acc:.3f}")

    def __call__(self, model, step: int, out) -> dict:
        if self.classifier is None:
            return {}
        from playmate_core.motion import generate_motion
        from .validation import clip_audio
        asked, got = [], []
        for clip, source_clip, i in self.probes:
            feats, _ = clip_audio(clip, min(clip.frames, WINDOW))
            source = vector_to_motion(source_clip.motion[i:i + 1], source_clip.kp)
            for label in self.classifier.classes:
                seq = generate_motion(model, features=feats, source_motion=source, emotion=label,
                                      steps=self.cfg.steps, eta=1.0, seed=0, w_a=W_A, w_e=W_E)
                feature = emotion_feature(seq.values.numpy(), self.val_centres[clip.identity])
                asked.append(label)
                got.append(self.classifier.predict(feature[None])[0])
        scores = {"val/emotion_acc": float(np.mean([a == g for a, g in zip(asked, got)]))}
        if self.gt_acc is not None:
            scores["val/emotion_acc_gt"] = self.gt_acc
        return scores


__all__ = ["EmotionAccuracy", "identity_centres", "neutral_frame", "round_robin"]
