"""Stream frames (and the untouched input audio) into an H.264/AAC mp4 with PyAV.

    frames (iterable of (H,W,3) uint8) --rgb24 -> yuv420p, libx264, crf--> video track at fps
    audio (C,S) or (S,) float at sample_rate --fltp, AAC--> audio track with ALL S samples

Each frame is encoded as it arrives (memory does not depend on the number of frames); audio is
interleaved by time. The file is written under a temporary name in the target folder and renamed at
the end, so a failed or cancelled write leaves no partial mp4 behind.
"""
from __future__ import annotations

import logging
import math
import numbers
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import numpy as np

from ..audio.bounds import check_sample_rate
from ..timebase import check_fps, fps_fraction
from .atomic import atomic_path

log = logging.getLogger("playmate")

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
FALLBACK_RATE = 48000          # AAC track rate when the input rate is not an AAC rate (PyAV resamples)
LAYOUTS = {1: "mono", 2: "stereo"}
AUDIO_CHUNK_S = 5.0            # audio is encoded in pieces of at most this length, with a cancel check between


def video_rate(fps: float) -> Fraction:
    """fps as the stream rate, the same rational the frame count uses (29.97 -> 2997/100, 25 -> 25)."""
    return fps_fraction(fps)


def prepare_audio(waveform, sample_rate) -> tuple[np.ndarray, int]:
    """(S,), (C,S) or (1,C,S) float audio -> ((C',S) float32 contiguous with C' in {1, 2}, sample_rate).
    More than two channels are averaged to mono."""
    arr = np.asarray(waveform.detach().cpu().numpy() if hasattr(waveform, "detach") else waveform)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] < 1 or not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"audio waveform must be float (samples,) or (channels, samples), got shape "
                         f"{arr.shape} dtype {arr.dtype}; pass ComfyUI AUDIO as (waveform[0], sample_rate)")
    if arr.shape[0] > 64:
        raise ValueError(f"audio waveform has {arr.shape[0]} channels; it looks like (samples, channels): "
                         f"transpose it to (channels, samples)")
    if not np.isfinite(arr).all():
        raise ValueError("audio waveform contains NaN or inf")
    if arr.shape[0] > 2:
        log.info("write_video: mixing %d audio channels down to mono", arr.shape[0])
        arr = arr.mean(axis=0, keepdims=True)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral):
        raise ValueError(f"audio sample_rate must be a positive integer (e.g. 16000), got {sample_rate!r}")
    rate = check_sample_rate(sample_rate, "the audio to mux")
    peak = float(np.abs(arr).max())
    if peak > 1.0:        # FFmpeg's AAC encoder can stall for good on samples far beyond full scale
        log.warning("write_video: the audio peaks at %.3g, beyond full scale 1.0; scaled down by %.3gx", peak, peak)
        arr = arr / peak
    return np.ascontiguousarray(arr, dtype=np.float32), rate


def _as_frame(frame, index: int) -> np.ndarray:
    arr = np.asarray(frame.detach().cpu().numpy() if hasattr(frame, "detach") else frame)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"frame {index}: expected an (H, W, 3) uint8 RGB image, got shape {arr.shape} dtype "
                         f"{arr.dtype}; convert float frames with (x.clip(0, 1) * 255).astype(np.uint8)")
    return arr


class _AudioTrack:
    """Feeds the AAC encoder up to a given time, so audio packets interleave with video."""

    def __init__(self, container, audio: np.ndarray, sample_rate: int):
        import av
        self.av, self.audio, self.rate = av, audio, sample_rate
        rate = sample_rate if sample_rate in AAC_RATES else FALLBACK_RATE
        self.stream = container.add_stream("aac", rate=rate, layout=LAYOUTS[audio.shape[0]])
        self.container, self.done = container, 0

    def feed_until(self, seconds: float | None, interrupt=None) -> None:
        """Encode samples up to `seconds` (None: all, then flush), AUDIO_CHUNK_S at a time; `interrupt()`
        (may raise) runs before each piece, so a long audio tail stays cancellable."""
        end = self.audio.shape[1] if seconds is None else min(self.audio.shape[1], math.ceil(seconds * self.rate))
        piece = max(1, int(AUDIO_CHUNK_S * self.rate))
        while end > self.done:
            if interrupt is not None:
                interrupt()
            stop = min(end, self.done + piece)
            frame = self.av.AudioFrame.from_ndarray(np.ascontiguousarray(self.audio[:, self.done:stop]),
                                                    format="fltp", layout=LAYOUTS[self.audio.shape[0]])
            frame.sample_rate, frame.pts, frame.time_base = self.rate, self.done, Fraction(1, self.rate)
            self.container.mux(self.stream.encode(frame))
            self.done = stop
        if seconds is None:
            self.container.mux(self.stream.encode(None))


def _encode(container, frames: Iterable, rate: Fraction, crf: int, audio, interrupt) -> tuple[int, int, int]:
    """Add the streams and encode everything -> (frames, width, height)."""
    import av
    track, stream, size, count = None, None, None, 0
    for i, frame in enumerate(frames):
        arr = _as_frame(frame, i)
        if stream is None:
            h, w = arr.shape[0] - arr.shape[0] % 2, arr.shape[1] - arr.shape[1] % 2
            if h < 2 or w < 2:
                raise ValueError(f"frame 0 is {arr.shape[1]}x{arr.shape[0]} px; a video needs at least 2x2")
            if (h, w) != arr.shape[:2]:
                log.debug("write_video: trimming %dx%d frames to even %dx%d", arr.shape[1], arr.shape[0], w, h)
            size = arr.shape[:2]
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"crf": str(crf)}
            track = _AudioTrack(container, *audio) if audio is not None else None   # streams before muxing
        if arr.shape[:2] != size:
            raise ValueError(f"frame {i} is {arr.shape[1]}x{arr.shape[0]} px but frame 0 was {size[1]}x{size[0]}; "
                             f"all frames of a video must have the same size")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr[:stream.height, :stream.width]),
                                                 format="rgb24")
        video_frame.pts = i
        container.mux(stream.encode(video_frame))
        count += 1
        if track is not None:
            track.feed_until((i + 1) / rate, interrupt)
    if stream is None:
        raise ValueError("write_video got no frames; render at least one frame")
    if interrupt is not None:
        interrupt()
    container.mux(stream.encode(None))
    if track is not None:
        track.feed_until(None, interrupt)
    return count, stream.width, stream.height


def write_video(path: str | Path, frames: Iterable, fps: float, audio=None, crf: int = 19, *,
                interrupt=None, staging_dir: str | Path | None = None) -> dict:
    """Encode `frames` ((H,W,3) uint8 RGB each, same size; odd sides trimmed) into an mp4 at `path`.

    audio: None or (waveform, sample_rate), waveform float (C,S) or (S,) in [-1, 1] (louder audio is scaled
    down to full scale, with a warning); the whole audio is written, even when it is longer than the
    video. crf: x264 quality 0-51 (lower = better, larger). fps: in [MIN_FPS, MAX_FPS] (timebase).
    interrupt: optional callable, run between audio pieces and before the final flush; it cancels the
    write by raising. staging_dir: where the partial file is written (atomic_path), e.g. a temp folder.
    Returns dict(frames, width, height, fps, duration_s (video), audio_samples (0 without audio)).
    """
    import av
    rate = video_rate(check_fps(fps, "the video's fps"))
    if isinstance(crf, bool) or not isinstance(crf, numbers.Integral) or not 0 <= crf <= 51:
        raise ValueError(f"crf must be an integer in 0..51 (x264 quality; 17-23 is typical), got {crf!r}")
    audio = prepare_audio(*audio) if audio is not None else None
    with atomic_path(path, ".mp4", staging_dir=staging_dir) as tmp:
        # faststart: the index goes before the media, so browsers (ComfyUI's preview) play while loading
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            count, width, height = _encode(container, frames, rate, int(crf), audio, interrupt)
    return {"frames": count, "width": width, "height": height, "fps": float(rate),
            "duration_s": float(count / rate), "audio_samples": 0 if audio is None else int(audio[0].shape[1])}


__all__ = ["write_video", "video_rate", "prepare_audio"]
