"""prepare_data on a clip made of REAL frames: a real talking-head video and a real portrait, composited
into one clip with a two-person part and a cut to another person (../shared/real-media, tests only)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
pytest.importorskip("mediapipe")
cv2 = pytest.importorskip("cv2")

from trainer import prepare_data as pd  # noqa: E402
from trainer.face_track import FaceTracker, shape_distance  # noqa: E402
from trainer_helpers import write_tiny_encoder, write_tiny_liveportrait  # noqa: E402

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "real-media"
pytestmark = pytest.mark.skipif(not (MEDIA / "driving_talking.mp4").is_file(), reason="needs ../shared/real-media")
SRC_FPS = 30
# parts of the composite clip, in seconds: who is in frame
PARTS = [(0.0, 5.0, "video"), (5.0, 7.0, "two people"), (7.0, 11.0, "video"), (11.0, 15.0, "portrait")]


def video_frames() -> list:
    with av.open(str(MEDIA / "driving_talking.mp4")) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]           # 512x512, 30 fps


def portrait(side: int, shift: int = 0) -> np.ndarray:
    img = cv2.cvtColor(cv2.imread(str(MEDIA / "portrait_photo.jpg")), cv2.COLOR_BGR2RGB)
    return np.roll(cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA), shift, axis=1)


def write_composite(path: Path) -> Path:
    """1024x512 at 30 fps: [talking person | grey] 5 s, [talking person | portrait] 2 s, [talking | grey]
    4 s, then a cut to [portrait | grey] 4 s; 15 s of real speech."""
    from playmate_core.audio import load_audio_file
    frames, side = video_frames(), 512
    grey = np.full((side, side, 3), 128, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=SRC_FPS)
        vs.width, vs.height, vs.pix_fmt, vs.options = 2 * side, side, "yuv420p", {"preset": "ultrafast"}
        aus = out.add_stream("aac", rate=16000)
        aus.layout = "mono"
        for i in range(int(15 * SRC_FPS)):
            who = next(w for a, b, w in PARTS if a <= i / SRC_FPS < b)
            left = portrait(side, 2 * (i % 5)) if who == "portrait" else frames[i % len(frames)]
            right = portrait(side) if who == "two people" else grey
            for pkt in vs.encode(av.VideoFrame.from_ndarray(np.concatenate([left, right], 1), format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        wav, _ = load_audio_file(MEDIA / "speech_16k_mono_20s.wav")
        wave = wav[:15 * 16000].numpy().astype(np.float32)
        for s in range(0, len(wave), 1024):
            af = av.AudioFrame.from_ndarray(wave[None, s:s + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts = 16000, s
            for pkt in aus.encode(af):
                out.mux(pkt)
        for pkt in aus.encode():
            out.mux(pkt)
    return path


def who(frame: int) -> str:
    return next(w for a, b, w in PARTS if a <= frame / 25 < b)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    write_composite(root / "videos" / "spk" / "mix.mp4")
    labels = root / "labels.csv"
    labels.write_text("path,identity,emotion,intensity\nspk/mix.mp4,P1,happy,2\n")
    args = ["--videos", str(root / "videos"), "--out", str(root / "out"), "--liveportrait",
            str(write_tiny_liveportrait(root / "lp")), "--audio-encoder", str(write_tiny_encoder(root / "enc")),
            "--tiny", "--save-crops", "--labels", str(labels)]
    pd.main(args)
    return {"root": root, "out": root / "out", "args": args, "labels": labels}


def manifest(out: Path) -> list:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


@pytest.mark.slow                       # the fixture prepares 15 s of real frames (about a minute here)
def test_segments_hold_one_person_each(prepared):
    rows = manifest(prepared["out"])
    assert [r["clip_id"] for r in rows] == ["spk__mix__seg0", "spk__mix__seg1", "spk__mix__seg2"]
    for r in rows:
        people = {who(k) for k in range(r["start_frame"], r["start_frame"] + r["frames"])}
        assert len(people) == 1 and "two people" not in people, (r["start_frame"], r["frames"], people)
        assert r["frames"] >= 90 and r["source_fps"] == 30 and r["source"] == "spk__mix"
        assert len(r["face_motion_sha256"]) == 64 and len(r["audio_encoder"]["sha256"]) == 64
        assert r["audio_encoder"]["name"].startswith("enc")
    covered = {who(k) for r in rows for k in range(r["start_frame"], r["start_frame"] + r["frames"])}
    assert covered == {"video", "portrait"}
    kept = sum(r["frames"] for r in rows)
    assert kept >= 0.9 * (375 - 50)                                   # all but the two-person part, nearly
    report = json.loads((prepared["out"] / "report.json").read_text())
    multi = sum(d["frames"] for d in report["dropped"] if d["reason"] == "several people in frame")
    assert multi >= 0.8 * 50                                          # 2 s = 50 frames with two faces


@pytest.mark.slow
def test_outputs_are_compressed_and_consistent(prepared):
    from safetensors.torch import load_file
    from trainer.crops_store import CropReader
    out, rows = prepared["out"], manifest(prepared["out"])
    crops = CropReader(out / rows[0]["crops"])
    assert len(crops) == 375 and (out / rows[0]["crops"]).stat().st_size < 375 * 256 * 256 * 3 / 5
    for r in rows:
        a, b = r["crop_range"]
        assert b - a == r["frames"] and all(crops.has(k) for k in range(a, b))
        audio = load_file(str(out / r["audio"]))
        assert audio["features"].shape[0] == r["frames"] == audio["energy_db"].shape[0]
        assert torch.isfinite(load_file(str(out / r["motion"]))["motion"]).all()


@pytest.mark.slow
def test_changed_labels_take_effect_without_re_extracting(prepared, monkeypatch):
    out = prepared["out"]
    assert {r["emotion"] for r in manifest(out)} == {"happy"}
    before = {p: p.stat().st_mtime_ns for p in (out / "motion").iterdir()}
    prepared["labels"].write_text("path,identity,emotion,intensity\nspk/mix.mp4,P1,sad,3\n")
    monkeypatch.setattr(pd, "Preparer", lambda *a, **k: pytest.fail("labels alone re-extracted the clip"))
    pd.main(prepared["args"])
    rows = manifest(out)
    assert {(r["emotion"], r["intensity"], r["identity"]) for r in rows} == {("sad", 3, "P1")}
    assert {p: p.stat().st_mtime_ns for p in (out / "motion").iterdir()} == before


def test_tracker_ends_a_segment_when_another_face_takes_the_same_place():
    """Real landmarks: the talking person, then the portrait's face moved onto the same box (no cut)."""
    from playmate_core.crop.backends import make_backend
    from playmate_core.crop.detection import DetectedFace
    backend = make_backend("mediapipe", None)
    frames = video_frames()
    faces = [backend.detect(f)[0] for f in frames[:20]]
    other = backend.detect(portrait(512))[0]
    backend.close()
    ref = faces[-1]
    scale = (ref.box[2] - ref.box[0]) / (other.box[2] - other.box[0])          # map the portrait onto the box
    moved = (other.landmarks - other.box[:2]) * scale + ref.box[:2]
    impostor = DetectedFace(moved, np.concatenate([moved.min(0), moved.max(0)]), None, other.layout)
    assert max(shape_distance(a.landmarks, b.landmarks) for a, b in zip(faces, faces[1:])) < 0.06
    tracker = FaceTracker()
    for k, face in enumerate(faces + [impostor] * 3):
        tracker.update(k, [face])
    segments, _ = tracker.finish(23)
    assert [(s.start, s.stop, s.end) for s in segments] == [(0, 20, "face jumped"), (20, 23, "end")]
