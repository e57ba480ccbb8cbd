"""With --face-weights, validation renders a short video of generated motion on a held-out face
(out/val/step_<n>.mp4), from the saved crop or, without crops, from the source video; bounded and optional."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("av")
pytest.importorskip("mediapipe")

from playmate_core import FaceEngineConfig, build_face_modules, save_weights  # noqa: E402
from test_motion import TINY  # noqa: E402
from trainer import prepare_data, stage1_motion  # noqa: E402
from trainer_helpers import write_tiny_encoder, write_video  # noqa: E402
from trainer_helpers import one_thread  # noqa: E402,F401  (autouse: one torch thread per test)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Two speakers prepared for real (tiny random face weights written WITH their architecture file, as
    tools/make_demo_models.py writes them, so the stages can load the engine from --face-weights)."""
    root = tmp_path_factory.mktemp("valvid")
    write_video(root / "vids" / "spk1" / "a.mp4", seconds=4.0, fps=30)
    write_video(root / "vids" / "spk2" / "b.mp4", seconds=4.0, fps=25)
    torch.manual_seed(0)
    lp = root / "lp"
    save_weights(build_face_modules(FaceEngineConfig.tiny()), lp, "safetensors", config=FaceEngineConfig.tiny())
    out = root / "data"
    prepare_data.main(["--videos", str(root / "vids"), "--out", str(out), "--liveportrait", str(lp),
                       "--audio-encoder", str(write_tiny_encoder(root / "enc")), "--tiny", "--save-crops"])
    return {"data": out, "lp": lp}


def train(data: Path, lp: Path, out: Path, steps: int = 2, *extra):
    return stage1_motion.main(["--data", str(data), "--out", str(out), "--face-weights", str(lp), "--set", *TINY,
                               f"steps={steps}", f"save_every={steps}", "val.identities=spk2", "val.every=1",
                               "val.steps=2", "val.seconds=2", "val.video_seconds=0.2", "val.video_size=64", *extra])


def read_video(path: Path) -> tuple:
    import av
    with av.open(str(path)) as c:
        has_audio = bool(c.streams.audio)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    return frames, has_audio


def without_crops(src: Path, dst: Path, keep_meta: bool = True) -> Path:
    shutil.copytree(src, dst)
    rows = [json.loads(x) for x in (dst / "manifest.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("crops", None)
        r.pop("crop_range", None)
    (dst / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.rmtree(dst / "crops")
    if not keep_meta:
        shutil.rmtree(dst / "meta")
    return dst


def test_video_every_n_validations_from_the_saved_crop(prepared, tmp_path):
    out = tmp_path / "run"
    train(prepared["data"], prepared["lp"], out, 3, "val.video_every=2")
    videos = sorted(p.name for p in (out / "val").glob("*.mp4"))
    assert videos == ["step_0000002.mp4", "step_0000003.mp4"]          # every 2nd validation + the last step
    frames, has_audio = read_video(out / "val" / "step_0000002.mp4")
    assert frames.shape == (5, 64, 64, 3) and has_audio                # 0.2 s at 25 fps, 64 px, the clip's sound
    assert np.abs(np.diff(frames.astype(np.int16), axis=0)).mean() > 0.1   # the face moves
    log = (out / "train.log").read_text()
    assert "validation video: clip 'spk2__b'" in log                  # the held-out identity's clip
    rows = list(csv.DictReader(open(out / "scalars.csv")))
    assert {int(r["step"]) for r in rows if r["name"] == "perf/val_video_s"} == {2, 3}


def test_without_crops_the_face_comes_from_the_source_video(prepared, tmp_path):
    data = without_crops(prepared["data"], tmp_path / "data")
    out = tmp_path / "run"
    train(data, prepared["lp"], out, 1)
    frames, has_audio = read_video(out / "val" / "step_0000001.mp4")
    assert frames.shape == (5, 64, 64, 3) and has_audio


def test_no_face_to_render_leaves_training_alone(prepared, tmp_path):
    data = without_crops(prepared["data"], tmp_path / "data", keep_meta=False)
    out = tmp_path / "run"
    result = train(data, prepared["lp"], out, 2)
    assert result["step"] == 2 and not list((out / "val").glob("*.mp4"))
    assert (out / "val" / "step_0000002.png").is_file()                # the other validation still runs
    log = (out / "train.log").read_text()
    assert log.count("validation video off") == 1 and "--save-crops" in log


def test_no_video_without_face_weights_or_when_switched_off(prepared, tmp_path):
    stage1_motion.main(["--data", str(prepared["data"]), "--out", str(tmp_path / "a"), "--set", *TINY, "steps=1",
                        "val.identities=spk2", "val.steps=2", "val.seconds=2"])
    train(prepared["data"], prepared["lp"], tmp_path / "b", 1, "val.video_every=0")
    assert not list(tmp_path.glob("*/val/*.mp4"))


def test_face_weights_that_do_not_load_are_refused_before_training(prepared, tmp_path):
    lp = tmp_path / "lp"
    shutil.copytree(prepared["lp"], lp)
    (lp / "playmate_face_config.json").unlink()              # same tensors, but read as the public architecture
    with pytest.raises(ValueError, match="val.video_every=0"):
        train(prepared["data"], lp, tmp_path / "run", 1)
    assert not (tmp_path / "run" / "train_state.pt").exists()
