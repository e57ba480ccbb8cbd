"""Evaluation inputs: PyAV video round trip, frame folders, pairing, and the errors users see."""
from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from playmate_core.eval import media
from playmate_core.eval.media import MediaError


def write_video(path, frames: np.ndarray, fps: int = 25, audio: np.ndarray | None = None, rate: int = 16000):
    """Lossless RGB (libx264rgb, crf 0) video of uint8 (T,H,W,3) frames, optional mono PCM audio track."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264rgb", rate=fps, options={"crf": "0"})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "rgb24"
        sound = out.add_stream("pcm_s16le", rate=rate, layout="mono") if audio is not None else None
        for f in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(video.encode())
        if sound is not None:
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)[None]               # 1,S
            chunk = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            chunk.sample_rate, chunk.time_base = rate, Fraction(1, rate)
            out.mux(sound.encode(chunk))
            out.mux(sound.encode())


def frames(n: int = 6, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    return np.clip(base.astype(np.int16) + 10 * np.arange(n)[:, None, None, None], 0, 255).astype(np.uint8)


def write_folder(root, frames_: np.ndarray, names=None):
    root.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames_):
        name = names[i] if names else f"{i:04d}.png"
        cv2.imwrite(str(root / name), np.ascontiguousarray(f[..., ::-1]))
    return root


def test_video_round_trip(tmp_path):
    x = frames(7)
    write_video(tmp_path / "clip.mkv", x, fps=25)
    clip = media.read_clip(tmp_path / "clip.mkv")
    assert clip.frames.shape == x.shape and clip.frames.dtype == np.uint8
    assert clip.fps == 25.0 and clip.num_frames == 7
    assert np.abs(clip.frames.astype(int) - x).max() <= 2          # lossless RGB, up to rounding


def test_audio_track_of_video_and_wav(tmp_path):
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 220 * t)
    write_video(tmp_path / "talk.mkv", frames(25), fps=25, audio=tone)
    wave = media.read_audio(tmp_path / "talk.mkv")
    assert wave.dtype == np.float32 and abs(len(wave) - 16000) < 400
    assert np.corrcoef(wave[1000:15000], tone[1000:15000])[0, 1] > 0.99


def test_video_without_audio_says_how_to_fix(tmp_path):
    write_video(tmp_path / "mute.mkv", frames(3))
    with pytest.raises(MediaError, match="--audio"):
        media.read_audio(tmp_path / "mute.mkv")


def test_frame_folder_natural_order(tmp_path):
    x = frames(11)
    names = [f"f{i}.png" for i in range(11)]                 # f10 must come after f9, not after f1
    folder = write_folder(tmp_path / "clip", x, names)
    clip = media.read_clip(folder, fps=30)
    np.testing.assert_array_equal(clip.frames, x)
    assert clip.fps == 30.0


def test_unreadable_video_names_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 50)
    with pytest.raises(MediaError, match="broken.mp4.*Re-encode"):
        media.read_clip(bad)


def test_empty_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError, match="empty"):
        media.read_frame_folder(tmp_path / "empty")
    with pytest.raises(MediaError, match="holds no videos"):
        media.list_items(tmp_path / "empty", "--generated")


def test_frames_of_different_size_are_refused(tmp_path):
    folder = write_folder(tmp_path / "clip", frames(2))
    cv2.imwrite(str(folder / "0002.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(MediaError, match="0002.png.*share one size"):
        media.read_frame_folder(folder)


def test_pairing_by_stem(tmp_path):
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    write_folder(gen / "b", frames(2))
    write_video(gen / "a.mkv", frames(2))
    ref.mkdir()
    write_video(ref / "a.mkv", frames(2))
    write_folder(ref / "b", frames(2))
    write_folder(ref / "extra", frames(2))
    (gen / "notes.txt").write_text("ignored")
    pairs = media.pair_items(gen, ref)
    assert [(s, g.name, r.name) for s, g, r in pairs] == [("a", "a.mkv", "a.mkv"), ("b", "b", "b")]
    write_folder(gen / "c", frames(2))
    with pytest.raises(MediaError, match=r"no reference.*'c'"):
        media.pair_items(gen, ref)


def test_find_by_stem(tmp_path):
    (tmp_path / "a.WAV").write_bytes(b"")
    (tmp_path / "b.txt").write_bytes(b"")
    assert media.find_by_stem(tmp_path, "a", media.AUDIO_EXTENSIONS).name == "a.WAV"
    assert media.find_by_stem(tmp_path, "b", media.AUDIO_EXTENSIONS) is None
    assert media.find_by_stem(None, "a", media.AUDIO_EXTENSIONS) is None


def test_mismatched_lengths_error_and_trim(tmp_path):
    gen = media.Clip(frames(8), 25.0, tmp_path / "gen" / "a.mp4")
    ref = media.Clip(frames(5), 25.0, tmp_path / "ref" / "a.mp4")
    with pytest.raises(MediaError, match=r"8 frames.*5.*--trim"):
        media.align_lengths(gen, ref, trim=False)
    g, r, note = media.align_lengths(gen, ref, trim=True)
    assert g.num_frames == r.num_frames == 5 and "trimmed to 5" in note
    np.testing.assert_array_equal(g.frames, gen.frames[:5])
    same = media.align_lengths(g, r, trim=False)
    assert same[2] is None


def test_resize_reference_to_generated():
    ref = frames(3, 48, 64)
    out = media.resize_to(ref, (24, 32))
    assert out.shape == (3, 24, 32, 3) and out.dtype == np.uint8
    assert media.resize_to(ref, (48, 64)) is ref
    assert media.resize_to(frames(2, 10, 10), (20, 30)).shape == (2, 20, 30, 3)


def test_resample_fps_and_even_sample():
    x = np.arange(30)
    out = media.resample_fps(x, 30.0, 25.0)                  # 1 s at 30 fps -> 25 frames
    assert len(out) == 25 and out[0] == 0 and np.all(np.diff(out) >= 1)
    assert media.resample_fps(x, 25.0, 25.0) is x
    assert media.even_sample(10, None).tolist() == list(range(10))
    assert media.even_sample(10, 3).tolist() == [0, 4, 9]
    assert media.even_sample(4, 10).tolist() == [0, 1, 2, 3]
