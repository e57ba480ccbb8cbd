"""Stage-1 / stage-2 trainers on a tiny synthetic prepared dataset (CPU, a few steps each)."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from playmate_core.motion import build_motion_model, load_motion_model, read_motion_checkpoint, save_motion_checkpoint
from nets import perturb_
from trainer import stage1_motion, stage2_emotion
from trainer.common import TrainingError
from trainer.data import DatasetError, MotionWindows, compute_stats, load_clips
from trainer_helpers import one_thread  # noqa: E402,F401  (autouse: one torch thread per test)

ROOT = Path(__file__).resolve().parents[2]


# ---- synthetic prepared datasets (the trainer/prepare_data.py contract) ----------------------
TINY = ["preset=tiny", "device=cpu", "bf16=false", "log_every=1", "optim.warmup_steps=2",
        "data.batch_size=2", "data.num_workers=0"]


def write_dataset(root: Path, clips=None, layers: int = 2, dim: int = 32, nan_clip: str | None = None,
                  seed: int = 0) -> Path:
    """clips: list of (clip_id, frames, emotion, intensity). Motion is a smooth random walk with
    LivePortrait-like magnitudes; audio features are random float16 (N, layers, dim)."""
    clips = clips or [("c0", 100, "happy", 2), ("c1", 95, None, None), ("c2", 120, "sad", 3),
                      ("c3", 92, "angry", 1), ("short", 40, None, None)]
    g = torch.Generator().manual_seed(seed)
    root = Path(root)
    (root / "motion").mkdir(parents=True, exist_ok=True)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for clip_id, n, emo, inten in clips:
        steps = torch.randn(n, 70, generator=g).cumsum(0) * 0.1
        scale = torch.tensor([0.01] * 63 + [3.0, 5.0, 2.0, 0.01, 0.01, 0.01, 0.01])
        offset = torch.tensor([0.0] * 63 + [0.0] * 6 + [1.5])
        motion = (steps * scale + offset).float()
        feats = torch.randn(n, layers, dim, generator=g).half()
        if clip_id == nan_clip:
            feats[:, 0, 0] = float("nan")
        save_file({"motion": motion, "kp": torch.randn(21, 3, generator=g) * 0.1},
                  str(root / "motion" / f"{clip_id}.safetensors"))
        save_file({"features": feats}, str(root / "audio" / f"{clip_id}.safetensors"))
        rows.append({"clip_id": clip_id, "frames": n, "fps": 25, "duration": n / 25, "identity": clip_id[:2],
                     "emotion": emo, "intensity": inten, "motion": f"motion/{clip_id}.safetensors",
                     "audio": f"audio/{clip_id}.safetensors"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("prepared"))


def stage1(data, out, steps=3, extra=(), stop_at=None):
    return stage1_motion.main(["--data", str(data), "--out", str(out), "--set", *TINY, f"steps={steps}",
                               f"save_every={steps}", *extra], stop_at=stop_at)


def test_stage1_runs_and_exports_trained_checkpoint(data, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="playmate.trainer")
    result = stage1(data, tmp_path, steps=2)
    assert len(result["losses"]) == 2 and all(torch.isfinite(torch.tensor(result["losses"])))
    assert "skipped 1 clip(s) shorter than 90 frames" in caplog.text
    assert "samples/s" in caplog.text and "eta" in caplog.text
    model = load_motion_model(tmp_path / "motion_stage1.safetensors")
    assert model.trained
    _, meta = read_motion_checkpoint(tmp_path / "motion_stage1.safetensors")
    training = json.loads(meta["training"])
    assert training["steps"] == 2 and training["clips"] == 4
    stats = compute_stats(load_clips(data))
    assert model.stats == stats
    assert (tmp_path / "train_state.pt").is_file() and (tmp_path / "train.log").is_file()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("tmp_*"))


def test_resume_reproduces_losses_exactly(data, tmp_path):
    full = stage1(data, tmp_path / "a", steps=6, extra=["save_every=3"])
    first = stage1(data, tmp_path / "b", steps=6, extra=["save_every=3"], stop_at=3)
    rest = stage1(data, tmp_path / "b", steps=6, extra=["save_every=3"])
    assert first["losses"] + rest["losses"] == full["losses"]
    a = torch.load(tmp_path / "a" / "train_state.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])


def test_stage2_trains_only_the_emotion_module(data, tmp_path):
    torch.manual_seed(0)
    s1 = build_motion_model("tiny", stats=compute_stats(load_clips(data)))
    perturb_(s1.denoiser, 0)                                       # a "trained" stage 1: heads not zero
    path = save_motion_checkpoint(tmp_path / "s1.safetensors", s1, part="stage1", trained=True, training={})
    before = {k: v.clone() for k, v in s1.denoiser.state_dict().items()}
    result = stage2_emotion.main(["--data", str(data), "--out", str(tmp_path / "s2"), "--stage1", str(path),
                                  "--set", *TINY, "steps=2", "save_every=2", "optim.lr=1e-2"])
    assert len(result["losses"]) == 2
    full = load_motion_model(tmp_path / "s2" / "motion_full.safetensors")
    assert full.trained and full.has_emotion
    assert all(torch.equal(full.denoiser.state_dict()[k], before[k]) for k in before)
    gates = full.emotion.blocks[0].adaln[1].weight
    assert gates.abs().sum() > 0                                   # the zero-initialised gates moved
    both = load_motion_model([path, tmp_path / "s2" / "motion_emotion.safetensors"])
    assert torch.equal(both.emotion.blocks[0].adaln[1].weight, gates)


def test_stage2_refuses_untrained_stage1(data, tmp_path):
    path = save_motion_checkpoint(tmp_path / "s1.safetensors", build_motion_model("tiny"), part="stage1")
    with pytest.raises(ValueError, match="UNTRAINED"):
        stage2_emotion.main(["--data", str(data), "--out", str(tmp_path / "s2"), "--stage1", str(path),
                             "--set", *TINY, "steps=1"])


def test_window_items_are_consistent(data):
    clips = load_clips(data)
    ds = MotionWindows(clips, compute_stats(clips))
    item = ds[(0, 123)]
    assert item["x0"].shape == (80, 70) and item["prev"].shape == (10, 70) and item["audio"].shape == (94, 2, 32)
    assert item["f_id"].shape == (126,) and item["ref"].shape == (70,)
    again = ds[(0, 123)]
    assert torch.equal(item["x0"], again["x0"]) and item["start"] == again["start"]
    from safetensors.torch import load_file
    feats = load_file(str(clips[0].audio_path))["features"].float()
    s = item["start"]
    idx = torch.arange(s - 2, s + 92).clamp(0, clips[0].frames - 1)
    assert torch.equal(item["audio"], feats[idx])


@pytest.mark.parametrize("case", ["missing_folder", "empty_manifest", "missing_file", "missing_motion", "all_short"])
def test_bad_datasets_name_the_problem(tmp_path, case):
    root = tmp_path / "d"
    if case == "empty_manifest":
        root.mkdir()
        (root / "manifest.jsonl").write_text("")
        match = "lists no clips"
    elif case == "missing_file":
        write_dataset(root, clips=[("a", 95, None, None)])
        (root / "audio" / "a.safetensors").unlink()
        match = "audio/a.safetensors"
    elif case == "missing_motion":
        write_dataset(root, clips=[("a", 95, None, None)])
        (root / "motion" / "a.safetensors").unlink()
        match = "motion/a.safetensors' listed in the manifest does not exist"
    elif case == "all_short":
        write_dataset(root, clips=[("a", 50, None, None)])
        match = "has >= 90 frames"
    else:
        match = "does not exist"
    with pytest.raises(DatasetError, match=match):
        load_clips(root)


def test_config_rejects_unknown_keys(data, tmp_path):
    with pytest.raises(ValueError, match="unknown config key 'optim.lrr'"):
        stage1(data, tmp_path, extra=["optim.lrr=1"])
    (tmp_path / "c.yaml").write_text("data:\n  batchsize: 3\n")
    with pytest.raises(ValueError, match="unknown config key 'data.batchsize'"):
        stage1_motion.main(["--data", str(data), "--out", str(tmp_path), "--config", str(tmp_path / "c.yaml")])


def test_nan_loss_stops_naming_step_and_batch(tmp_path):
    clips = [("g1", 100, None, None), ("g2", 100, None, None), ("g3", 100, None, None), ("bad", 100, None, None)]
    data = write_dataset(tmp_path / "d", clips=clips, nan_clip="bad")
    out = tmp_path / "run"
    with pytest.raises(TrainingError) as err:
        stage1_motion.main(["--data", str(data), "--out", str(out), "--set", *TINY, "data.batch_size=1",
                            "steps=20", "save_every=1"])
    msg = str(err.value)                                           # seed 0 shuffles 'bad' to the 3rd batch
    assert "non-finite loss at step 3, batch clips ['bad']" in msg and "is kept" in msg
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert state["step"] == 2                                      # the last good checkpoint
    assert load_motion_model(out / "motion_stage1.safetensors").trained


@pytest.mark.slow                       # torchrun: two processes
def test_ddp_two_cpu_processes(data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trainer.stage1_motion", "--data", str(data), "--out", str(out), "--set", *TINY,
           "steps=2", "save_every=2", "data.batch_size=1"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("step 2/2 loss") == 1                 # rank 0 logs, rank 1 does not
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    rank0, rank1 = state["last_batches"]
    assert rank0 != rank1                                          # DistributedSampler split the clips
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "motion_stage1.safetensors", "run.json",
                                                     "scalars.csv", "train.log", "train_state.pt"]   # rank 0 only
    assert load_motion_model(out / "motion_stage1.safetensors").trained


def test_stage2_resume_and_workers_reproduce_losses(data, tmp_path):
    torch.manual_seed(0)
    s1 = build_motion_model("tiny", stats=compute_stats(load_clips(data)))
    perturb_(s1.denoiser, 0)
    path = save_motion_checkpoint(tmp_path / "s1.safetensors", s1, part="stage1", trained=True, training={})

    def s2(out, stop_at=None, workers=0):
        return stage2_emotion.main(["--data", str(data), "--out", str(tmp_path / out), "--stage1", str(path),
                                    "--set", *TINY, "steps=4", "save_every=2", f"data.num_workers={workers}"],
                                   stop_at=stop_at)["losses"]
    full = s2("a")
    assert s2("b", stop_at=2) + s2("b") == full
    assert s2("c", workers=1) == full                              # items do not depend on the worker


def test_condition_dropout_and_start_case(data):
    from trainer.batches import diffusion_inputs
    from trainer.config import ConditionConfig
    from trainer.stage2_emotion import emotion_conditions
    clips = load_clips(data)
    ds = MotionWindows(clips, compute_stats(clips))
    model = build_motion_model("tiny", emotion=True)
    batch = {k: torch.stack([v] * 4) if isinstance(v, torch.Tensor) else [v] * 4 for k, v in ds[(0, 5)].items()}
    x = diffusion_inputs(batch, model, ConditionConfig(p_start=1.0), torch.Generator().manual_seed(0), "cpu")
    assert torch.equal(x["prev"], batch["ref"][:, None].expand(-1, 10, -1))
    assert x["audio_null"][:, :10].all() and not x["audio_null"][:, 10:].any()
    x = diffusion_inputs(batch, model, ConditionConfig(p_start=0.0), torch.Generator().manual_seed(0), "cpu")
    assert not x["audio_null"].any() and (x["prev"] - batch["prev"]).abs().max() < 1.0
    n = 20000
    big = {"emotion": [4] * n, "intensity": [1] * n}
    emo_w, int_w, both = emotion_conditions(big, model.emotion, ConditionConfig(), torch.Generator().manual_seed(1), 3)
    null = emo_w[:, 0, 8] == 1
    assert emo_w.shape == (n, 3, 9) and int_w.shape == (n, 3, 4)
    assert abs(both.float().mean() - 0.10) < 0.01 and abs(null.float().mean() - 0.45) < 0.015
    assert null[both].all() and (int_w[null, 0, 3] == 1).all() and (emo_w[~null, 0, 4] == 1).all()


def test_set_overrides_are_typed_and_strict():
    from trainer.config import TrainConfig, load_config
    cfg = load_config(TrainConfig, None, ["optim.lr=3e-4", "steps=7", "bf16=false", "stage1=x.safetensors"])
    assert cfg.optim.lr == 3e-4 and cfg.steps == 7 and cfg.bf16 is False and cfg.stage1 == "x.safetensors"
    with pytest.raises(ValueError, match="expects int"):
        load_config(TrainConfig, None, ["steps=1.5"])
    with pytest.raises(ValueError, match="is a section"):
        load_config(TrainConfig, None, ["optim=1"])
    with pytest.raises(ValueError, match="p_both_null"):
        load_config(TrainConfig, None, ["cond.p_both_null=0.9", "cond.p_emotion_null=0.5"])


def test_resume_refuses_changed_dataset(data, tmp_path):
    stage1(data, tmp_path / "run", steps=2, stop_at=1)
    other = write_dataset(tmp_path / "other", seed=1)
    with pytest.raises(TrainingError, match="statistics of this dataset differ"):
        stage1(other, tmp_path / "run", steps=2)


def test_lr_schedule_and_ema():
    from trainer.common import EMA, make_scheduler
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = make_scheduler(opt, warmup=4, total=14, min_ratio=0.1)
    lrs = []
    for _ in range(14):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0] and abs(lrs[9] - 0.55) < 1e-9 and lrs == sorted(lrs[:4]) + lrs[4:]
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:])) and abs(sched.get_last_lr()[0] - 0.1) < 1e-9
    module = torch.nn.Linear(1, 1)
    ema = EMA(module, decay=0.5)
    with torch.no_grad():
        module.weight.fill_(2.0)
    before = ema.module.weight.clone()
    ema.update(module, step=100)
    assert torch.allclose(ema.module.weight, 0.5 * before + 0.5 * 2.0)
