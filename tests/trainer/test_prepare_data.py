"""trainer.prepare_data on synthetic PyAV clips with tiny random models (never downloads)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("av")
pytest.importorskip("mediapipe")

from trainer import prepare_data as pd  # noqa: E402
from trainer.crops_store import CropReader  # noqa: E402
from trainer.video_io import decode_video  # noqa: E402
from trainer_helpers import write_tiny_encoder, write_tiny_liveportrait, write_video  # noqa: E402

torch.set_num_threads(1)


def read(path: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(str(path))


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("prep")
    vids = root / "vids"
    write_video(vids / "spk1" / "a.mp4", seconds=4.0, fps=30)
    write_video(vids / "spk2" / "b.mkv", seconds=3.75, fps=24)
    write_video(vids / "short.mp4", seconds=2.0)
    write_video(vids / "mute.mov", audio=None)
    write_video(vids / "quiet.mp4", audio="silence")
    (vids / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    return {"root": root, "videos": vids, "lp": write_tiny_liveportrait(root / "lp"),
            "enc": write_tiny_encoder(root / "enc")}


def args(assets, out, *extra):
    return ["--videos", str(assets["videos"]), "--out", str(out), "--liveportrait", str(assets["lp"]),
            "--audio-encoder", str(assets["enc"]), "--tiny", *extra]


@pytest.fixture(scope="module")
def prepared(assets):
    out = assets["root"] / "out"
    pd.main(args(assets, out, "--save-crops"))
    return out


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_manifest_files_and_report(prepared):
    rows = manifest(prepared)
    assert [r["clip_id"] for r in rows] == ["spk1__a", "spk2__b"]
    for row, seconds in zip(rows, (4.0, 3.75)):
        n = math.ceil(seconds * 25 - 1e-6)
        assert row["frames"] == n and row["fps"] == 25 and abs(row["duration"] - n / 25) < 1e-3
        assert row["identity"] == row["clip_id"].split("__")[0] and row["emotion"] is None and row["intensity"] is None
        motion = read(prepared / row["motion"])
        assert motion["motion"].shape == (n, 70) and motion["motion"].dtype == torch.float32
        assert motion["kp"].shape == (21, 3) and motion["kp"].dtype == torch.float32
        feats = read(prepared / row["audio"])["features"]
        assert feats.shape == (n, 2, 32) and feats.dtype == torch.float16       # tiny encoder: L=2, D=32
        crops = CropReader(prepared / row["crops"])
        assert len(crops) == n and row["crop_range"] == [0, n] and crops[n - 1].shape == (256, 256, 3)
        assert crops[0].dtype == np.uint8 and (prepared / row["crops"]).stat().st_size < n * 256 * 256 * 3 / 4
    reasons = {s["clip_id"]: s["reason"] for s in json.loads((prepared / "report.json").read_text())["skipped"]}
    assert reasons["broken"].startswith("corrupt or unreadable")
    assert reasons["short"].startswith("too short: 50 frames")
    assert reasons["mute"] == "no audio track"
    assert reasons["quiet"].startswith("silent audio")


def test_motion_matches_face_engine(prepared, assets):
    from playmate_core import FaceEngineConfig, load_face_engine
    from playmate_core.motion.layout import motion_to_vector
    engine = load_face_engine(assets["lp"], config=FaceEngineConfig.tiny())
    reader = CropReader(prepared / "crops/spk1__a.jpg.bin")
    crops = torch.from_numpy(np.stack([reader[i] for i in range(3)]))
    ref = motion_to_vector(engine.extract_motion(crops.permute(0, 3, 1, 2).float() / 255))
    got = read(prepared / "motion/spk1__a.safetensors")["motion"][:3]
    torch.testing.assert_close(got, ref, atol=0.05, rtol=0.05)                 # crops stored as JPEG q95


def test_resume_does_not_reprocess(prepared, assets, monkeypatch):
    before = {p: p.stat().st_mtime_ns for p in (prepared / "motion").iterdir()}
    monkeypatch.setattr(pd, "Preparer", lambda *a, **k: pytest.fail("resumed run rebuilt the models"))
    pd.main(args(assets, prepared, "--save-crops"))
    assert {p: p.stat().st_mtime_ns for p in (prepared / "motion").iterdir()} == before
    assert len(manifest(prepared)) == 2


def test_two_shards_and_merge_equal_one_run(prepared, assets):
    out = assets["root"] / "sharded"
    for i in range(2):
        pd.main(args(assets, out, "--shard", str(i), "--num-shards", "2"))
    assert not (out / "manifest.jsonl").exists()
    pd.main(["--out", str(out), "--merge"])
    strip = [{k: v for k, v in r.items() if k not in ("crops", "crop_range")} for r in manifest(prepared)]
    assert manifest(out) == strip
    assert json.loads((out / "report.json").read_text()) == json.loads((prepared / "report.json").read_text())
    torch.testing.assert_close(read(out / "motion/spk2__b.safetensors")["motion"],
                               read(prepared / "motion/spk2__b.safetensors")["motion"])


def test_labels_csv(assets, tmp_path):
    vids = tmp_path / "v"
    vids.mkdir()
    (vids / "clip.mp4").symlink_to(assets["videos"] / "spk1" / "a.mp4")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,identity,emotion,intensity\nclip.mp4,M003,Happiness,2\n")
    out = tmp_path / "out"
    pd.main(["--videos", str(vids), "--out", str(out), "--liveportrait", str(assets["lp"]),
             "--audio-encoder", str(assets["enc"]), "--tiny", "--labels", str(labels)])
    (row,) = manifest(out)
    assert (row["clip_id"], row["identity"], row["emotion"], row["intensity"]) == ("clip", "M003", "happy", 2)


def test_decode_picks_nearest_frame(tmp_path):
    import av
    path = write_video(tmp_path / "ten.mp4", seconds=1.0, fps=10, audio=None)
    with av.open(str(path)) as c:
        src = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    clip = decode_video(path, 25)
    assert clip.frames.shape[0] == 25 and abs(clip.duration - 1.0) < 1e-6
    for k in range(25):
        assert np.array_equal(clip.frames[k], src[min(9, round(k * 10 / 25))]), k


def test_missing_or_empty_folder_is_named(assets, tmp_path):
    for folder in (tmp_path / "nope", tmp_path):
        with pytest.raises(FileNotFoundError, match=str(folder)):
            pd.main(["--videos", str(folder), "--out", str(tmp_path / "o"), "--liveportrait", str(assets["lp"]),
                     "--audio-encoder", str(assets["enc"])])


def test_labels_reject_unknown_emotion(assets, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("clip_id,identity,emotion,intensity\nspk1__a,x,bored,1\n")
    with pytest.raises(ValueError, match="bored"):
        pd.main(args(assets, tmp_path / "o", "--labels", str(labels)))


def test_retry_skipped_reprocesses_only_skipped(prepared, assets, monkeypatch):
    class Built(Exception):
        pass

    def fake(*a, **k):
        raise Built()
    monkeypatch.setattr(pd, "Preparer", fake)
    with pytest.raises(Built):
        pd.main(args(assets, prepared, "--save-crops", "--retry-skipped"))
