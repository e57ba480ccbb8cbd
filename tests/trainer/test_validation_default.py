"""Validation is on in trainer/configs/base.yaml, and falls back (with a warning) on data with too few people."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from playmate_core.motion import read_motion_checkpoint
from test_motion import TINY, write_dataset
from trainer import stage1_motion
from trainer.config import TrainConfig, load_config
from trainer.data import load_clips
from trainer.validation import holdout
from trainer_helpers import one_thread  # noqa: E402,F401  (autouse: one torch thread per test)

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "trainer" / "configs" / "base.yaml"


def run_base(data: Path, out: Path) -> dict:
    """A run with the real base.yaml, shrunk to the tiny model and one step (validation settings untouched)."""
    stage1_motion.main(["--data", str(data), "--out", str(out), "--config", str(BASE), "--set", *TINY, "steps=1",
                        "save_every=1", "val.steps=2"])
    return json.loads(read_motion_checkpoint(out / stage1_motion.EXPORT)[1]["training"])


def test_base_config_validates_a_small_share_of_identities():
    cfg = load_config(TrainConfig, BASE)
    assert 0 < cfg.val.fraction <= 0.1 and cfg.val.min_identities >= 2 and cfg.val.every <= cfg.save_every
    assert load_config(TrainConfig).val.fraction == 0.0        # library callers without a config: no split


def test_too_few_identities_trains_on_everything_with_a_warning(tmp_path):
    data = write_dataset(tmp_path / "d")                         # 4 usable clips, 4 identities (< 10)
    training = run_base(data, tmp_path / "run")
    assert training["clips"] == 4 and training["val_clips"] == 0
    log = (tmp_path / "run" / "train.log").read_text()
    assert "validation is OFF" in log and "val.identities=NAME" in log and "val.min_identities=10" in log
    assert not (tmp_path / "run" / "val").exists()


def test_enough_identities_hold_one_out_and_validate(tmp_path):
    data = write_dataset(tmp_path / "d", clips=[(f"i{k}clip", 95, None, None) for k in range(10)])
    training = run_base(data, tmp_path / "run")
    assert training["clips"] == 9 and training["val_clips"] == 1      # ceil(0.05 x 10) identities held out
    names = {r["name"] for r in csv.DictReader(open(tmp_path / "run" / "scalars.csv"))}
    assert {"val/loss", "val/jerk", "perf/val_s"} <= names
    assert (tmp_path / "run" / "val" / "step_0000001.png").is_file()


def test_named_identities_are_held_out_whatever_their_number(tmp_path):
    clips = load_clips(write_dataset(tmp_path / "d"))
    cfg = load_config(TrainConfig, BASE, ["val.identities=c1"])
    train, val = holdout(clips, cfg.val)
    assert [c.identity for c in val] == ["c1"] and len(train) == 3
    assert holdout(clips, load_config(TrainConfig, BASE, ["val.min_identities=4"]).val)[1]   # 4 people suffice
    with pytest.raises(ValueError, match="val.min_identities must be >= 2"):
        load_config(TrainConfig, BASE, ["val.min_identities=1"])
