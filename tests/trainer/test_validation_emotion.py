"""Stage-2 validation scores emotion accuracy on held-out identities (val/emotion_acc in scalars.csv)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from nets import perturb_
from playmate_core.eval.motion_metrics import emotion_feature, expression_centre
from playmate_core.motion import MotionSequence, build_motion_model, save_motion_checkpoint
from test_motion import TINY
from trainer import stage2_emotion
from trainer.config import TrainConfig, load_config
from trainer.data import compute_stats, load_clips
from trainer.val_emotion import EmotionAccuracy
from trainer.validation import holdout
from trainer_helpers import one_thread  # noqa: E402,F401  (autouse: one torch thread per test)

LABELS = ("angry", "happy", "sad")
PEOPLE = ("p0", "p1", "p2", "p3", "p4")


def offsets() -> dict:
    """A fixed expression offset per label (what the emotion 'is' in this synthetic data)."""
    g = torch.Generator().manual_seed(7)
    return {lab: torch.randn(63, generator=g) * 0.05 for lab in LABELS}


def write_emotion_dataset(root: Path, frames: int = 100) -> Path:
    """Every person in every label: motion = the person's neutral face + the label's offset + a small walk."""
    g = torch.Generator().manual_seed(0)
    off = offsets()
    (root / "motion").mkdir(parents=True)
    (root / "audio").mkdir()
    rows = []
    for who in PEOPLE:
        neutral = torch.randn(63, generator=g) * 0.1
        kp = torch.randn(21, 3, generator=g) * 0.1
        for lab in LABELS:
            cid = f"{who}_{lab}"
            walk = torch.randn(frames, 70, generator=g).cumsum(0) * 0.002
            motion = walk.clone()
            motion[:, :63] += neutral + off[lab]
            motion[:, 63:66] = torch.randn(frames, 3, generator=g).cumsum(0) * 0.3
            motion[:, 69] = 1.5
            save_file({"motion": motion.float(), "kp": kp}, str(root / "motion" / f"{cid}.safetensors"))
            save_file({"features": torch.randn(frames, 2, 32, generator=g).half()},
                      str(root / "audio" / f"{cid}.safetensors"))
            rows.append({"clip_id": cid, "frames": frames, "fps": 25, "identity": who, "emotion": lab,
                         "intensity": 2, "motion": f"motion/{cid}.safetensors", "audio": f"audio/{cid}.safetensors"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_emotion_dataset(tmp_path_factory.mktemp("emo_val"))


def val_config(*sets):
    return load_config(TrainConfig, None, ["val.identities=p4", "val.steps=2", "val.emotion_clips=2", *sets])


def test_emotion_feature_cancels_the_person():
    g = np.random.default_rng(0)
    smile = g.normal(size=63) * 0.05
    a, b = g.normal(size=63), g.normal(size=63)                     # two people's neutral faces
    clips_a = [np.tile(a + s, (30, 1)) for s in (smile, -smile, 0 * smile)]
    clips_b = [np.tile(b + s, (30, 1)) for s in (smile, -smile, 0 * smile)]
    fa = emotion_feature(clips_a[0], expression_centre(clips_a))
    fb = emotion_feature(clips_b[0], expression_centre(clips_b))
    assert np.allclose(fa, smile) and np.allclose(fb, smile)        # the same smile on either face
    assert emotion_feature(np.pad(clips_a[1], ((0, 0), (0, 7))), expression_centre(clips_a)).shape == (63,)


def test_a_module_that_does_nothing_scores_chance_and_one_that_obeys_scores_all(data, tmp_path, monkeypatch):
    cfg = val_config()
    train, val = holdout(load_clips(data), cfg.val)
    model = build_motion_model("tiny", emotion=True, stats=compute_stats(train))     # zero-init module: identity
    perturb_(model.denoiser, 0)
    probe = EmotionAccuracy(train, val, cfg.val)
    assert probe.classifier.classes == list(LABELS)
    scores = probe(model, 1, tmp_path)
    assert scores["val/emotion_acc"] == pytest.approx(1 / len(LABELS))          # same face for every label
    assert scores["val/emotion_acc_gt"] == 1.0                                 # the held-out truth is separable

    import playmate_core.motion as motion_api
    off = offsets()

    def obeying(model, features, source_motion, emotion, **_):                 # shows the asked emotion
        values = torch.zeros(len(features), 70)
        values[:, :63] = source_motion["exp"].reshape(1, 63) + off[emotion]
        return MotionSequence(values=values, kp=source_motion["kp"], fps=25, trained=True)

    monkeypatch.setattr(motion_api, "generate_motion", obeying)
    assert probe(model, 2, tmp_path)["val/emotion_acc"] == 1.0


def test_fewer_than_two_labels_turns_the_metric_off(data, caplog):
    cfg = val_config()
    train, val = holdout(load_clips(data), cfg.val)
    one_label = [c for c in train if c.emotion == train[0].emotion]
    model = build_motion_model("tiny", emotion=True, stats=compute_stats(train))
    probe = EmotionAccuracy(one_label, val, cfg.val)
    assert probe(model, 1, None) == {} and "val/emotion_acc is off" in caplog.text


def test_stage2_writes_emotion_accuracy_with_the_validation_scalars(data, tmp_path):
    torch.manual_seed(0)
    model = build_motion_model("tiny", stats=compute_stats(load_clips(data)))
    perturb_(model.denoiser, 0)
    stage1 = save_motion_checkpoint(tmp_path / "s1.safetensors", model, part="stage1", trained=True, training={})
    out = tmp_path / "s2"
    stage2_emotion.main(["--data", str(data), "--out", str(out), "--stage1", str(stage1), "--set", *TINY, "steps=2",
                         "save_every=2", "val.identities=p4", "val.every=1", "val.steps=2", "val.emotion_clips=1",
                         "val.seconds=2"])
    rows = list(csv.DictReader(open(out / "scalars.csv")))
    got = {(int(r["step"]), r["name"]): float(r["value"]) for r in rows}
    for step in (1, 2):
        assert 0.0 <= got[(step, "val/emotion_acc")] <= 1.0
        assert got[(step, "val/emotion_acc_gt")] == 1.0
        assert (step, "val/loss") in got and got[(step, "perf/val_s")] > 0
    assert "val/emotion_acc" in (out / "train.log").read_text()
