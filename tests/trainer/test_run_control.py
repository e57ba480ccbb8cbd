"""Runs you can stop, resume, trace and watch: signals, config checks, --init-from, run records, scalars."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from playmate_core.motion import load_motion_model, read_motion_checkpoint
from test_motion import TINY, write_dataset
from trainer import stage1_motion, stage2_emotion
from trainer.common import TrainingError
from trainer.data import DatasetError
from trainer_helpers import one_thread  # noqa: E402,F401  (autouse: one torch thread per test)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("prepared_rc"))


def stage1(data, out, steps=4, extra=(), stop_at=None, flags=()):
    return stage1_motion.main(["--data", str(data), "--out", str(out), *flags, "--set", *TINY, f"steps={steps}",
                               f"save_every={steps}", *extra], stop_at=stop_at)


@pytest.mark.slow                       # a subprocess run interrupted by a real SIGTERM
def test_sigterm_saves_at_the_step_and_resume_matches_uninterrupted(data, tmp_path):
    steps = 120
    full = stage1(data, tmp_path / "full", steps=steps)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "trainer.stage1_motion", "--data", str(data), "--out", str(out), "--set", *TINY,
           f"steps={steps}", f"save_every={steps}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:                                       # wait until training is under way
        seen.append(line)
        if " step 5/" in line:
            proc.send_signal(signal.SIGTERM)
            break
    _, rest = proc.communicate(timeout=120)
    log = "".join(seen) + rest
    assert proc.returncode == 128 + signal.SIGTERM, log[-3000:]
    assert "Traceback" not in log and "stopped by SIGTERM at step" in log
    state = torch.load(out / "train_state.pt", weights_only=True)
    stopped = state["step"]
    assert 5 <= stopped < steps and state["stopped_by"] == "SIGTERM"
    assert f"stopped by SIGTERM at step {stopped}/{steps}" in log      # the checkpoint is at the interruption
    resumed = stage1(data, out, steps=steps)
    assert resumed["losses"] == full["losses"][stopped:]           # exactly the uninterrupted sequence
    a = torch.load(tmp_path / "full" / "train_state.pt", weights_only=True)
    b = torch.load(out / "train_state.pt", weights_only=True)
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])
    launches = json.loads((out / "run.json").read_text())["launches"]
    assert [x["resumed_from_step"] for x in launches] == [None, stopped]


def test_programmatic_stop_saves_and_reports(data, tmp_path, monkeypatch):
    from trainer import stopping
    calls = {"n": 0}
    original = stopping.StopRequest.agreed

    def agreed(self, dist):                       # a SIGINT arriving during step 3
        calls["n"] += 1
        if calls["n"] == 3:
            self.request(signal.SIGINT)
        return original(self, dist)
    monkeypatch.setattr(stopping.StopRequest, "agreed", agreed)
    result = stage1(data, tmp_path, steps=10)
    assert result["step"] == 3 and result["interrupted"] == "SIGINT" and result["exit_code"] == 130
    assert torch.load(tmp_path / "train_state.pt", weights_only=True)["step"] == 3
    assert load_motion_model(tmp_path / "motion_stage1.safetensors").trained


def test_changed_config_is_refused_unless_allowed(data, tmp_path):
    stage1(data, tmp_path, steps=4, stop_at=2)
    with pytest.raises(TrainingError) as err:
        stage1(data, tmp_path, steps=4, extra=["optim.lr=3e-4", "cond.p_start=0.2"])
    msg = str(err.value)
    assert "optim.lr: 0.0001 -> 0.0003" in msg and "cond.p_start: 0.1 -> 0.2" in msg
    assert "--allow-config-change" in msg
    stage1(data, tmp_path, steps=4, extra=["log_every=2", "data.num_workers=0"], stop_at=3)   # watching keys: free
    result = stage1(data, tmp_path, steps=4, extra=["optim.lr=3e-4"], flags=["--allow-config-change"])
    assert result["step"] == 4
    state = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert state["optimizer"]["param_groups"][0]["initial_lr"] == 3e-4       # the new value took effect
    last = json.loads((tmp_path / "run.json").read_text())["launches"][-1]
    assert last["config_changes"] == [{"key": "optim.lr", "old": 1e-4, "new": 3e-4}]


def test_changed_dataset_is_a_config_change(data, tmp_path):
    stage1(data, tmp_path / "run", steps=4, stop_at=2)
    other = write_dataset(tmp_path / "other", clips=[("c0", 100, "happy", 2), ("c1", 95, None, None),
                                                     ("c2", 120, "sad", 3)])
    with pytest.raises(TrainingError, match="dataset.manifest_sha256"):
        stage1(other, tmp_path / "run", steps=4)


def test_run_folder_records_config_code_packages_dataset_and_scalars(data, tmp_path):
    stage1(data, tmp_path, steps=3)
    run = json.loads((tmp_path / "run.json").read_text())
    launch = run["launches"][0]
    assert run["stage"] == "stage1_motion" and launch["argv"] and launch["seeds"]["seed"] == 0
    assert launch["code_version"] and launch["packages"]["torch"] in (torch.__version__, torch.__version__.split("+")[0])
    assert len(launch["dataset"]["manifest_sha256"]) == 64 and launch["dataset"]["clips"] == 4
    import yaml
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["steps"] == 3
    rows = list(csv.DictReader(open(tmp_path / "scalars.csv")))
    names = {r["name"] for r in rows}
    assert {"train/loss", "train/lr", "perf/samples_per_s", "perf/step_s", "perf/mem_gb"} <= names
    sps = [float(r["value"]) for r in rows if r["name"] == "perf/samples_per_s"]
    assert all(s > 0 for s in sps)


def test_init_from_starts_a_new_run_from_weights_and_statistics(data, tmp_path):
    stage1(data, tmp_path / "a", steps=3, extra=["optim.lr=1e-2"])
    ckpt = tmp_path / "a" / "motion_stage1.safetensors"
    other = write_dataset(tmp_path / "other", seed=3)
    result = stage1(other, tmp_path / "b", steps=1, extra=["optim.lr=1e-12", "optim.warmup_steps=0"],
                    flags=["--init-from", str(ckpt)])
    assert result["step"] == 1                                                 # a new run, not a resume
    start, tuned = load_motion_model(ckpt), load_motion_model(tmp_path / "b" / "motion_stage1.safetensors")
    assert tuned.stats == start.stats                                          # the init's normalisation
    for k, v in start.denoiser.state_dict().items():
        torch.testing.assert_close(tuned.denoiser.state_dict()[k], v, atol=1e-6, rtol=0)
    _, meta = read_motion_checkpoint(
        tmp_path / "b" / "motion_stage1.safetensors")
    assert json.loads(meta["provenance"])["init_from"] == str(ckpt)


def test_stage2_without_labels_is_refused(tmp_path):
    unlabelled = write_dataset(tmp_path / "d", clips=[("a0", 100, None, None), ("b0", 100, None, None)])
    stage1(unlabelled, tmp_path / "s1", steps=2)
    with pytest.raises(DatasetError, match="none of the 2 training clips .* has an emotion label"):
        stage2_emotion.main(["--data", str(unlabelled), "--out", str(tmp_path / "s2"), "--stage1",
                             str(tmp_path / "s1" / "motion_stage1.safetensors"), "--set", *TINY, "steps=1"])


def test_validation_split_by_identity_scalars_and_preview(tmp_path):
    clips = [(f"{p}{i}", 110, None, None) for p in ("aa", "bb", "cc") for i in range(2)]
    data = write_dataset(tmp_path / "d", clips=clips)
    result = stage1(data, tmp_path / "run", steps=4, extra=["val.identities=bb", "val.every=2", "val.steps=3",
                                                            "val.seconds=4"])
    assert result["step"] == 4
    rows = list(csv.DictReader(open(tmp_path / "run" / "scalars.csv")))
    val = {(int(r["step"]), r["name"]) for r in rows if r["name"].startswith("val/")}
    assert {(2, "val/loss"), (4, "val/loss"), (4, "val/jerk"), (4, "val/pose_std"), (4, "val/seam")} <= val
    assert (tmp_path / "run" / "val" / "step_0000004.png").is_file()
    training = json.loads(read_motion_checkpoint(
        tmp_path / "run" / "motion_stage1.safetensors")[1]["training"])
    assert training["clips"] == 4 and training["val_clips"] == 2              # held out: identity 'bb'
    with pytest.raises(DatasetError, match="val.identities names"):
        stage1(data, tmp_path / "run2", steps=1, extra=["val.identities=zz"])


def test_validation_does_not_change_the_training_run(data, tmp_path):
    clips = [(f"{p}{i}", 110, None, None) for p in ("aa", "bb") for i in range(2)]
    d = write_dataset(tmp_path / "d", clips=clips)
    plain = stage1(d, tmp_path / "a", steps=4, extra=["val.identities=bb", "val.every=100000"])
    watched = stage1(d, tmp_path / "b", steps=4, extra=["val.identities=bb", "val.every=1", "val.steps=2"])
    assert plain["losses"] == watched["losses"]


def test_default_threads():
    from trainer.common import Dist, default_threads
    from trainer.config import TrainConfig, load_config
    cfg = load_config(TrainConfig, None, ["preset=tiny"])
    env = os.environ.pop("OMP_NUM_THREADS", None)
    try:
        assert default_threads(cfg, Dist()) == (1, "tiny preset")
        assert default_threads(load_config(TrainConfig, None, ["threads=3"]), Dist())[0] == 3
        n, why = default_threads(load_config(TrainConfig, None, ["data.num_workers=0"]), Dist())
        assert 1 <= n <= (os.cpu_count() or 1) and "usable CPU" in why
    finally:
        if env is not None:
            os.environ["OMP_NUM_THREADS"] = env


def _worker_with_rank(parent: int, rank: int) -> int | None:
    """PID of the torchrun worker with RANK=rank among `parent`'s children (Linux /proc)."""
    for task in Path(f"/proc/{parent}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"RANK={rank}".encode() in env:
                return int(pid)
    return None


@pytest.mark.slow                       # torchrun: two processes, SIGTERM to rank 1 only
def test_sigterm_to_one_rank_stops_every_rank_at_the_same_step(data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trainer.stage1_motion", "--data", str(data), "--out", str(out), "--set", *TINY,
           "steps=300", "save_every=300", "data.batch_size=1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if " step 3/" in line:
            os.kill(_worker_with_rank(proc.pid, 1), signal.SIGTERM)      # rank 0 never sees the signal itself
            break
    _, rest = proc.communicate(timeout=180)
    log = "".join(seen) + rest
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert 3 <= state["step"] < 300 and state["stopped_by"] == "SIGTERM", log[-3000:]
    assert f"stopped by SIGTERM at step {state['step']}/300" in log           # rank 0 stopped at the agreed step
    assert len(state["rng"]) == 2 and len(state["last_batches"]) == 2        # both ranks took part in the save
