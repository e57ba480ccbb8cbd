"""Motion checkpoints: round trip, separate stage files, metadata, and refusal of bad files."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from motion_helpers import active_model, features, source_motion
from playmate_core import CheckpointError
from playmate_core.motion import (MotionStats, build_motion_model, generate_motion, load_motion_model,
                                  read_motion_checkpoint, save_motion_checkpoint)


@pytest.fixture(scope="module")
def model():
    m = active_model(emotion=True)
    m.stats = MotionStats.from_dict({**MotionStats.placeholder().to_dict(), "exp_mean": [0.001] * 63})
    return m


def _gen(m):
    return generate_motion(m, source_motion=source_motion(), features=features(100, m), steps=3,
                           emotion="surprised", intensity=1, w_a=2.0, w_e=1.2).values


def test_round_trip_single_file_gives_identical_output(model, tmp_path):
    path = save_motion_checkpoint(tmp_path / "motion.safetensors", model, trained=True, training={"steps": 12})
    loaded = load_motion_model(path)
    assert loaded.trained and loaded.has_emotion and loaded.stats == model.stats
    assert loaded.meta["training"] == {"steps": 12}
    assert torch.equal(_gen(loaded), _gen(model))
    meta = read_motion_checkpoint(path)[1]
    assert json.loads(meta["parts"]) == ["stage1", "emotion"]
    assert json.loads(meta["emotion_labels"])[0] == "angry" and json.loads(meta["motion_layout"])["dim"] == 70
    assert meta["fps"] == "25" and json.loads(meta["diffusion"])["prediction"] == "epsilon"


def test_separate_stage_files_and_trained_flags(model, tmp_path):
    s1 = save_motion_checkpoint(tmp_path / "stage1.safetensors", model, part="stage1", trained=True)
    em = save_motion_checkpoint(tmp_path / "emotion.safetensors", model, part="emotion")   # model flag: untrained
    both = load_motion_model([s1, em])
    assert torch.equal(_gen(both), _gen(model))
    assert not both.trained and both.meta["stage1_trained"] and not both.meta["emotion_trained"]
    only1 = load_motion_model(s1)
    assert only1.trained and not only1.has_emotion
    seq = generate_motion(only1, source_motion=source_motion(), features=features(20, only1), steps=1)
    assert seq.trained is True
    with pytest.raises(CheckpointError, match="stage-1"):
        load_motion_model(em)
    with pytest.raises(CheckpointError, match="two files"):
        load_motion_model([s1, s1])


def test_built_model_reports_untrained(tmp_path):
    m = build_motion_model("tiny")
    path = save_motion_checkpoint(tmp_path / "untrained.safetensors", m)
    assert load_motion_model(path).trained is False


def test_truncated_file_is_refused(model, tmp_path):
    path = save_motion_checkpoint(tmp_path / "motion.safetensors", model)
    data = path.read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_motion_model(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_motion_model(tmp_path / "missing.safetensors")


def _rewrite(path, out, drop_meta=(), meta_update=None, tensors_fn=None):
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(path))
    for k in drop_meta:
        meta.pop(k)
    meta.update(meta_update or {})
    if tensors_fn:
        tensors = tensors_fn(tensors)
    save_file(tensors, str(out), metadata=meta)
    return out


def test_missing_stats_are_refused(model, tmp_path):
    path = save_motion_checkpoint(tmp_path / "motion.safetensors", model)
    bad = _rewrite(path, tmp_path / "nostats.safetensors", drop_meta=["stats"])
    with pytest.raises(CheckpointError, match="no normalisation statistics"):
        load_motion_model(bad)


def test_config_tensor_mismatch_is_refused(model, tmp_path):
    path = save_motion_checkpoint(tmp_path / "motion.safetensors", model)
    cfg = json.loads(read_motion_checkpoint(path)[1]["denoiser_config"])
    more_layers = _rewrite(path, tmp_path / "layers.safetensors",
                           meta_update={"denoiser_config": json.dumps({**cfg, "num_layers": 3})})
    with pytest.raises(CheckpointError, match="missing .* key.*trunk.blocks.2"):
        load_motion_model(more_layers)
    wider_ffn = _rewrite(path, tmp_path / "ffn.safetensors",
                         meta_update={"denoiser_config": json.dumps({**cfg, "ffn_dim": 256})})
    with pytest.raises(CheckpointError, match="shape"):
        load_motion_model(wider_ffn)
    extra = _rewrite(path, tmp_path / "extra.safetensors",
                     tensors_fn=lambda t: {**t, "denoiser.unexpected.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="unexpected"):
        load_motion_model(extra)
    unknown_key = _rewrite(path, tmp_path / "key.safetensors",
                           meta_update={"denoiser_config": json.dumps({**cfg, "bogus": 1})})
    with pytest.raises(CheckpointError, match="unknown keys"):
        load_motion_model(unknown_key)


def test_not_a_motion_checkpoint_is_refused(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(CheckpointError, match="not a Playmate motion checkpoint"):
        load_motion_model(other)


def test_bfloat16_load_runs(model, tmp_path):
    path = save_motion_checkpoint(tmp_path / "motion.safetensors", model)
    m = load_motion_model(path, dtype=torch.bfloat16)
    out = generate_motion(m, source_motion=source_motion(), features=features(40, m), steps=2)
    assert out.values.dtype == torch.float32 and torch.isfinite(out.values).all()
    with pytest.raises(ValueError, match="bfloat16"):
        load_motion_model(path, dtype=torch.float16)
