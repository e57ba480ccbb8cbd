"""Nothing half-written survives, hostile numbers are refused before a file is opened, the writer cancels."""
import os

import av
import numpy as np
import pytest
import torch

from playmate_core.motion import MotionSequence
from playmate_core.pipeline import load_motion_file, save_motion_file, write_video
from playmate_core.pipeline.atomic import atomic_path, sweep_partials
from playmate_core.pipeline.motion_file import MAX_FRAMES


def frames(n, h=48, w=64):
    for i in range(n):
        yield np.full((h, w, 3), (i * 8) % 256, np.uint8)


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_staged_write_leaves_nothing_beside_the_target_while_writing(tmp_path):
    out, stage = tmp_path / "output", tmp_path / "temp"
    with atomic_path(out / "sub" / "v.mp4", ".mp4", staging_dir=stage) as tmp:
        tmp.write_bytes(b"partial")
        assert tmp.parent == stage and listing(out) == ["sub"]          # the output folder shows nothing yet
    assert (out / "sub" / "v.mp4").read_bytes() == b"partial" and listing(stage) == []
    assert (os.stat(out / "sub" / "v.mp4").st_mode & 0o777) == 0o644


def test_failed_staged_write_removes_the_partial_and_keeps_the_old_target(tmp_path):
    target = tmp_path / "out" / "m.bin"
    target.parent.mkdir()
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target, staging_dir=tmp_path / "stage") as tmp:
            tmp.write_bytes(b"new")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and listing(tmp_path / "stage") == []


def test_sweep_removes_only_what_atomic_path_leaves(tmp_path):
    keep = [".hidden", "a.part", ".x.mp4.1234567.part.mp4", ".notes.part.txt", "video.mp4"]
    left = [".v.mp4.0123abcd.part.mp4", "sub/.m.motion.safetensors.deadbeef.part"]
    for name in keep + left:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    gone = sweep_partials(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in gone) == sorted(left)
    assert all((tmp_path / name).exists() for name in keep)


@pytest.mark.parametrize("fps", [1e-300, 0.5, 121, float("inf"), float("nan"), 1e308, True])
def test_write_video_refuses_fps_out_of_range_before_opening_a_file(tmp_path, fps):
    with pytest.raises(ValueError, match="1 to 120 fps"):
        write_video(tmp_path / "v.mp4", frames(3), fps)
    assert listing(tmp_path) == []


def test_write_video_scales_loud_audio_and_the_mp4_stays_within_full_scale(tmp_path):
    sr = 16000
    wave = (1e5 * np.sin(np.arange(sr) / sr * 2 * np.pi * 220)).astype(np.float32)[None]
    write_video(tmp_path / "v.mp4", frames(25), 25, audio=(torch.from_numpy(wave), sr))
    with av.open(str(tmp_path / "v.mp4")) as c:
        decoded = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert 0.8 < np.abs(decoded).max() < 1.2                 # AAC overshoots a little; 1e5 would not survive


def test_write_video_refuses_sample_rates_outside_the_range(tmp_path):
    with pytest.raises(ValueError, match="sample rate of 1 Hz"):
        write_video(tmp_path / "v.mp4", frames(3), 25, audio=(np.zeros((1, 10), np.float32), 1))
    assert listing(tmp_path) == []


def test_interrupt_stops_the_audio_tail_and_leaves_no_file(tmp_path):
    sr, calls = 16000, []

    def interrupt():
        calls.append(1)
        if len(calls) > 3:                                   # video done; cancel inside the long audio tail
            raise KeyboardInterrupt

    wave = np.zeros((1, sr * 60), np.float32)                # 60 s of audio behind a 0.08 s video
    with pytest.raises(KeyboardInterrupt):
        write_video(tmp_path / "out" / "v.mp4", frames(2), 25, audio=(wave, sr), interrupt=interrupt,
                    staging_dir=tmp_path / "stage")
    assert listing(tmp_path / "out") == [] and listing(tmp_path / "stage") == []


def seq(values, fps=25.0):
    return MotionSequence(values=values, kp=torch.zeros(1, 21, 3), fps=fps, trained=False)


@pytest.mark.parametrize("column, value, fragment", [(0, 50.0, "expression offsets"), (63, 1e4, "pitch/yaw/roll"),
                                                     (66, -1e3, "translation"), (69, 1e9, "scale")])
def test_motion_values_outside_plausible_bounds_are_refused(tmp_path, column, value, fragment):
    values = torch.zeros(4, 70)
    values[2, column] = value
    with pytest.raises(ValueError, match=fragment):
        save_motion_file(tmp_path / "m.motion.safetensors", seq(values))


@pytest.mark.parametrize("fps", ["1e-300", "1e308", "0.5", "nan"])
def test_motion_file_fps_out_of_range_is_refused_on_load(tmp_path, fps):
    from safetensors.torch import save_file
    from safetensors import safe_open
    path = save_motion_file(tmp_path / "ok.motion.safetensors", seq(torch.zeros(3, 70)))
    with safe_open(str(path), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, str(tmp_path / "bad.motion.safetensors"), metadata={**meta, "fps": fps})
    with pytest.raises(ValueError, match="not a valid Playmate motion file .*1 to 120 fps"):
        load_motion_file(tmp_path / "bad.motion.safetensors")


def test_motion_file_too_large_or_too_long_is_refused(tmp_path):
    with pytest.raises(ValueError, match=f"frames in 1..{MAX_FRAMES}"):
        save_motion_file(tmp_path / "m.motion.safetensors", seq(torch.zeros(MAX_FRAMES + 1, 70)))
    big = tmp_path / "big.motion.safetensors"
    with open(big, "wb") as f:                               # sparse: no disk used
        f.truncate(2 * MAX_FRAMES * 70 * 4 + (2 << 20))
    with pytest.raises(ValueError, match="bytes, more than a motion"):
        load_motion_file(big)
