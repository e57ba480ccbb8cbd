"""pipeline.video_file, motion_file and preview: mp4 with the whole audio, strict motion files, plots."""
import json

import av
import numpy as np
import pytest
import torch

from playmate_core.motion import MotionSequence
from playmate_core.pipeline import (MOTION_SUFFIX, draw_motion_preview, load_motion_file, mouth_opening,
                                    save_motion_file, write_video)


def frames(n: int, h: int = 48, w: int = 64):
    for i in range(n):
        yield np.full((h, w, 3), (i * 8) % 256, np.uint8)


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {"codec": v.codec_context.name, "size": (v.codec_context.width, v.codec_context.height),
                "rate": v.average_rate, "audio": None}
        if c.streams.audio:
            a = c.streams.audio[0]
            info["audio"] = (a.codec_context.name, float(a.duration * a.time_base), a.codec_context.sample_rate,
                             a.codec_context.channels if hasattr(a.codec_context, "channels") else None)
        info["frames"] = sum(1 for _ in c.decode(video=0))
    return info


def test_video_with_whole_audio(tmp_path):
    sr = 16000
    wave = np.sin(np.arange(int(1.3 * sr)) / sr * 2 * np.pi * 220).astype(np.float32) * 0.5   # 1.3 s > 1.2 s video
    out = write_video(tmp_path / "a.mp4", frames(30), 25, audio=(torch.from_numpy(wave)[None], sr))
    assert out == {"frames": 30, "width": 64, "height": 48, "fps": 25.0, "duration_s": 1.2,
                   "audio_samples": wave.shape[0]}
    info = probe(tmp_path / "a.mp4")
    assert info["codec"] == "h264" and info["frames"] == 30 and info["size"] == (64, 48)
    codec, duration, rate, _ = info["audio"]
    assert codec == "aac" and rate == sr
    assert abs(duration - 1.3) <= 1024 / sr                                   # within one AAC frame
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]                  # no temporary left
    assert (tmp_path / "a.mp4").stat().st_mode & 0o777 == 0o644


def test_audio_at_a_non_aac_rate_is_resampled_not_cut(tmp_path):
    sr = 22222
    write_video(tmp_path / "r.mp4", frames(5), 25, audio=(np.zeros(int(1.3 * sr), np.float32), sr))
    codec, duration, rate, _ = probe(tmp_path / "r.mp4")["audio"]
    assert codec == "aac" and rate == 48000 and abs(duration - 1.3) <= 1024 / rate


def test_odd_sizes_fractional_fps_stereo_and_no_audio(tmp_path):
    sr = 44100
    stereo = np.random.default_rng(0).uniform(-0.3, 0.3, (2, sr // 2)).astype(np.float32)
    out = write_video(tmp_path / "b.mp4", frames(12, 47, 65), 30000 / 1001, audio=(stereo, sr))
    assert (out["width"], out["height"], out["frames"]) == (64, 46, 12)
    info = probe(tmp_path / "b.mp4")
    assert info["size"] == (64, 46) and info["rate"] == pytest.approx(30000 / 1001, rel=1e-3)
    assert info["audio"][0] == "aac" and info["audio"][1] == pytest.approx(0.5, abs=1024 / sr)
    out = write_video(tmp_path / "c.mp4", frames(3), 12.5)
    assert out["audio_samples"] == 0 and probe(tmp_path / "c.mp4")["audio"] is None


def test_failed_write_leaves_nothing(tmp_path):
    def cancelled():
        yield from frames(5)
        raise KeyboardInterrupt("cancelled")
    with pytest.raises(KeyboardInterrupt):
        write_video(tmp_path / "x.mp4", cancelled(), 25)
    with pytest.raises(ValueError, match="frame 2 is 32x48 px but frame 0 was 64x48"):
        write_video(tmp_path / "y.mp4", [*frames(2), np.zeros((48, 32, 3), np.uint8)], 25)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "z.mp4", [np.zeros((48, 64, 3), np.float32)], 25)
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "w.mp4", [], 25)
    with pytest.raises(ValueError, match=r"\(samples, channels\)"):
        write_video(tmp_path / "v.mp4", frames(2), 25, audio=(np.zeros((16000, 2), np.float32), 16000))
    assert list(tmp_path.iterdir()) == []


def motion(n=6, **kw):
    g = torch.Generator().manual_seed(0)
    kw = {"fps": 30.0, "trained": False, "origin": "driving", **kw}
    return MotionSequence(values=torch.randn(n, 70, generator=g), kp=torch.randn(1, 21, 3, generator=g), **kw)


def test_motion_file_round_trip(tmp_path):
    seq = motion(normalised=torch.ones(6, 70))
    path = save_motion_file(tmp_path / f"clip{MOTION_SUFFIX}", seq)
    back = load_motion_file(path)
    assert torch.equal(back.values, seq.values) and torch.equal(back.kp, seq.kp)
    assert torch.equal(back.normalised, seq.normalised)
    assert (back.fps, back.trained, back.origin) == (30.0, False, "driving")
    assert path.stat().st_mode & 0o777 == 0o644 and [p.name for p in tmp_path.iterdir()] == [path.name]
    plain = load_motion_file(save_motion_file(tmp_path / "p.motion.safetensors", motion(fps=29.97, trained=True)))
    assert plain.normalised is None and plain.fps == 29.97 and plain.trained and plain.origin == "driving"


def test_motion_file_is_strict(tmp_path):
    from safetensors.torch import save_file
    path = save_motion_file(tmp_path / "ok.motion.safetensors", motion())
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    cases = {
        "format": ({**tensors}, {**meta, "format": "other"}, "format is 'other'"),
        "missing": ({"values": tensors["values"]}, meta, "expected values, kp"),
        "shape": ({**tensors, "values": torch.zeros(6, 63)}, meta, r"values must be \(frames in 1..216000, 70\)"),
        "kp": ({**tensors, "kp": torch.zeros(21, 3)}, meta, r"kp has shape \(21, 3\)"),
        "layout": (tensors, {**meta, "layout": json.dumps({"slices": {}, "dim": 70})}, "layout differs"),
        "nometa": (tensors, {"format": "playmate-motion"}, "missing metadata"),
    }
    for name, (t, m, match) in cases.items():
        bad = tmp_path / f"{name}.motion.safetensors"
        save_file(t, str(bad), metadata=m)
        with pytest.raises(ValueError, match=match) as err:
            load_motion_file(bad)
        assert str(bad) in str(err.value) and "Save Motion node" in str(err.value)
    (tmp_path / "junk.motion.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="Save Motion node"):
        load_motion_file(tmp_path / "junk.motion.safetensors")
    with pytest.raises(FileNotFoundError):
        load_motion_file(tmp_path / "absent.motion.safetensors")


def test_preview_draws_curves():
    still = motion(50, trained=True)
    still.values[:] = 0
    moving = motion(50, trained=True)
    moving.values[:] = 0
    moving.values[:, 64] = torch.linspace(-10, 10, 50)                       # yaw sweep
    moving.values[:, 6 * 3 + 1] = torch.sin(torch.arange(50) * 0.5) * 0.02   # lip keypoint 6, y
    a, b = draw_motion_preview(still), draw_motion_preview(moving)
    assert a.shape == (540, 960, 3) and a.dtype == np.uint8
    diff = np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 0
    assert diff[:300].sum() > 500 and diff[300:].sum() > 500                 # both panels changed
    assert mouth_opening(moving.values.numpy()).shape == (50,)
    small = draw_motion_preview(motion(1, trained=False), width=320, height=200)
    assert small.shape == (200, 320, 3)
    untrained = draw_motion_preview(motion(50, trained=False))
    title = np.abs(untrained[:30].astype(int) - draw_motion_preview(motion(50, trained=True))[:30].astype(int))
    assert title.sum() > 0                                                   # the UNTRAINED warning
    with pytest.raises(ValueError, match="width must be an integer"):
        draw_motion_preview(still, width=10)
