"""The main job's model step (scripts/main_job_models.py): with a hub that answers it downloads the public
JoyVASA + LivePortrait files (replacing the demo LivePortrait set) and plans the JoyVASA workflow on them;
offline it plans the demo models with the loud notice and the reason."""
from __future__ import annotations

import importlib.util
import shutil
import socket
import sys
from pathlib import Path

import pytest

from e2e.hub_standin import load_tool
from playmate_core.face.config import FACE_CONFIG_FILENAME

ROOT = Path(__file__).resolve().parents[2]
LP_SLOTS = ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator",
            "stitching_retargeting_module")


def _script():
    spec = importlib.util.spec_from_file_location("main_job_models", ROOT / "scripts" / "main_job_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory) -> Path:
    sys.path.insert(0, str(ROOT / "tools"))
    from make_demo_models import write_demo_models
    root = tmp_path_factory.mktemp("demo")
    write_demo_models(root)
    return root


@pytest.fixture(scope="module")
def tiny_hub(tmp_path_factory):
    """The public repositories' paths, small files: a tiny released-layout JoyVASA, stand-in LivePortrait bytes."""
    from playmate_core.motion.joyvasa.export import (TINY_HUBERT, TINY_JOYVASA, build_random_joyvasa,
                                                     save_released_layout, save_template_pickle)
    root = tmp_path_factory.mktemp("hub")
    joy = root / "jdh-algo" / "JoyVASA"
    (joy / "motion_generator").mkdir(parents=True)
    (joy / "motion_template").mkdir()
    model = build_random_joyvasa(TINY_JOYVASA, TINY_HUBERT, seed=0)
    save_released_layout(model, joy / "motion_generator" / "motion_generator_hubert_chinese.pt")
    save_template_pickle(model.template, joy / "motion_template" / "motion_template.pkl")
    (root / "TencentGameMate" / "chinese-hubert-base").mkdir(parents=True)
    (root / "TencentGameMate" / "chinese-hubert-base" / "config.json").write_text('{"model_type": "hubert"}')
    kj = root / "Kijai" / "LivePortrait_safetensors"
    kj.mkdir(parents=True)
    for slot in LP_SLOTS:
        (kj / f"{slot}.safetensors").write_bytes(slot.encode() * 1000)
    with load_tool().HubStandin(root) as server:
        yield server


def test_with_a_hub_the_public_weights_are_fetched_and_the_joyvasa_workflow_planned(
        demo_models, tiny_hub, tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    shutil.copytree(demo_models, models)
    monkeypatch.setenv("HF_ENDPOINT", tiny_hub.endpoint)
    monkeypatch.delenv("PLAYMATE_DOWNLOAD", raising=False)
    job = _script()
    assert job.fetch(models) == 0
    assert len(tiny_hub.downloaded()) == 8
    lp = models / "liveportrait"
    assert not (lp / FACE_CONFIG_FILENAME).exists()                  # the demo set was replaced, file by file
    assert (lp / "warping_module.safetensors").read_bytes() == b"warping_module" * 1000
    assert "downloaded 8 public file(s)" in (models / job.STATUS).read_text()
    capsys.readouterr()
    assert job.plan(models) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"workflow {job.WORKFLOW_JOYVASA}"
    assert "set 3.motion_model=motion_generator_hubert_chinese.pt" in lines and "set 3.download=never" in lines
    assert "NOT the output of a trained model" not in err and "public weights: JoyVASA motion" in err
    tiny_hub.clear()
    assert job.fetch(models) == 0 and tiny_hub.served() == []       # present: no request at all


def test_offline_plans_the_demo_models_with_the_notice(demo_models, tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    shutil.copytree(demo_models, models)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    job = _script()
    assert job.fetch(models) == 0
    assert (models / job.STATUS).read_text().startswith("offline:")
    assert (models / "liveportrait" / FACE_CONFIG_FILENAME).is_file()      # the demo set is untouched
    capsys.readouterr()
    job.plan(models)
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"workflow {job.WORKFLOW_A}"
    assert "NOT the output of a trained model" in err and "offline:" in err and "PLAYMATE_DOWNLOAD" in err
    monkeypatch.setenv("PLAYMATE_DOWNLOAD", "never")
    job.fetch(models)
    assert "PLAYMATE_DOWNLOAD=never" in (models / job.STATUS).read_text()
