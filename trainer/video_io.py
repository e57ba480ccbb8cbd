"""Video decoding for data preparation: any PyAV-readable file -> RGB frames resampled to 25 fps.

Frame selection by timestamp: tick k is at k / fps seconds (k = 0 .. ceil(duration * fps) - 1) and
takes the decoded frame whose presentation time is nearest (ties -> the earlier frame).

    FrameStream(path, fps=25)  -> iterate (k, rgb) one frame at a time: bounded memory for any length
    decode_video(path, fps=25) -> VideoClip(frames (N,H,W,3) uint8 RGB, duration s, source_fps) in memory
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playmate_core.timebase import frame_count

log = logging.getLogger("playmate.trainer")

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi")


class VideoError(ValueError):
    """The file cannot be decoded as a video (corrupt, unreadable, no video stream)."""


@dataclass
class VideoClip:
    frames: np.ndarray        # (N,H,W,3) uint8 RGB at `fps`
    duration: float           # seconds of video
    source_fps: float
    has_audio: bool


def find_videos(root: str | Path) -> list[Path]:
    """All video files under `root` (recursive, sorted). Raises with the folder name if none."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"--videos folder '{root}' does not exist or is not a folder; pass the "
                                f"folder holding your clips ({', '.join(VIDEO_EXTENSIONS)}).")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"--videos folder '{root}' holds no video files "
                                f"({', '.join(VIDEO_EXTENSIONS)}, searched recursively).")
    return files


def num_ticks(duration: float, fps: float) -> int:
    """Frames at `fps` covering `duration` seconds (the core's frame_count; durations to the microsecond)."""
    return frame_count(duration, fps)


class FrameStream:
    """Iterate a video's frames resampled to `fps` one at a time (memory: two decoded frames).

        stream = FrameStream(path, 25)
        for k, rgb in stream:          # tick k = k / fps seconds, nearest decoded frame (ties: earlier)
            ...
        stream.duration, stream.source_fps, stream.has_audio     # known once iterated (has_audio: at open)

    Frames larger than `max_side` (LivePortrait's 1280-px source limit) are downscaled (INTER_AREA).
    Raises VideoError for a file that cannot be decoded as a video.
    """

    def __init__(self, path: str | Path, fps: float = 25.0, max_seconds: float | None = None,
                 max_side: int | None = 1280):
        import av
        self.path, self.fps, self.max_seconds, self.max_side = Path(path), fps, max_seconds, max_side
        self.duration, self.frames_out = 0.0, 0
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise VideoError(f"'{self.path}' has no video stream")
                stream = container.streams.video[0]
                self.has_audio = bool(container.streams.audio)
                self.source_fps = float(stream.average_rate or stream.guessed_rate or fps)
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode '{self.path}': {exc}") from exc

    def _scaled(self, frame) -> np.ndarray:
        import cv2
        rgb = frame.to_ndarray(format="rgb24")                  # (H,W,3)
        if self.max_side and max(rgb.shape[:2]) > self.max_side:
            k = self.max_side / max(rgb.shape[:2])
            rgb = cv2.resize(rgb, (round(rgb.shape[1] * k), round(rgb.shape[0] * k)), interpolation=cv2.INTER_AREA)
        return rgb

    def __iter__(self):
        import av
        fps, first, count, last_t, prev, tick = self.fps, None, 0, 0.0, None, 0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                for frame in container.decode(stream):
                    t = float(frame.time) if frame.time is not None else count / self.source_fps
                    if self.max_seconds is not None and t > self.max_seconds:
                        break
                    first = t if first is None else first
                    count, last_t = count + 1, t
                    rgb = self._scaled(frame)
                    while tick / fps < t:                       # ticks before t: prev or this, the nearer
                        near_prev = prev is not None and abs(prev[0] - tick / fps) <= abs(t - tick / fps)
                        yield tick, (prev[1] if near_prev else rgb)
                        tick += 1
                    if tick / fps == t:
                        yield tick, rgb
                        tick += 1
                    prev = (t, rgb)
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode '{self.path}': {exc}") from exc
        if prev is None:
            raise VideoError(f"'{self.path}' has no decodable video frames")
        frame_dur = (last_t - first) / (count - 1) if count > 1 else 1.0 / self.source_fps
        self.duration = float(last_t - min(first, 0.0) + frame_dur)   # last frame's end
        n = num_ticks(self.duration, fps)
        while tick < n:                                        # ticks after the last frame's start
            yield tick, prev[1]
            tick += 1
        self.frames_out = tick


def decode_video(path: str | Path, fps: float = 25.0, max_seconds: float | None = None,
                 max_side: int | None = 1280) -> VideoClip:
    """Decode the first video stream of `path` and pick the nearest frame to each 1/fps tick, all in
    memory (tests, short clips; prepare_data streams with FrameStream)."""
    stream = FrameStream(path, fps, max_seconds, max_side)
    frames = [rgb for _, rgb in stream]
    n = num_ticks(stream.duration, fps)
    return VideoClip(frames=np.stack(frames[:n]), duration=stream.duration, source_fps=stream.source_fps,
                     has_audio=stream.has_audio)
