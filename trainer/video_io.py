"""Video decoding for data preparation: any PyAV-readable file -> RGB frames resampled to 25 fps.

Frame selection by timestamp: tick k is at k / fps seconds (k = 0 .. ceil(duration * fps) - 1) and
takes the decoded frame whose presentation time is nearest (ties -> the earlier frame). Frames are
streamed, so only the frames selected so far are kept in memory.

    decode_video(path, fps=25) -> VideoClip(frames (N,H,W,3) uint8 RGB, duration s, source_fps)
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


def decode_video(path: str | Path, fps: float = 25.0, max_seconds: float | None = None,
                 max_side: int | None = 1280) -> VideoClip:
    """Decode the first video stream of `path` and pick the nearest frame to each 1/fps tick.

    Frames larger than `max_side` (LivePortrait's 1280-px source limit) are downscaled (INTER_AREA),
    which also bounds memory for HD clips.
    """
    import av
    import cv2

    path = Path(path)
    times: list[float] = []
    selected: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"'{path}' has no video stream")
            stream = container.streams.video[0]
            has_audio = bool(container.streams.audio)
            src_fps = float(stream.average_rate or stream.guessed_rate or fps)
            prev = None                                # (time, rgb) of the last decoded frame
            tick = 0
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else len(times) / src_fps
                if max_seconds is not None and t > max_seconds:
                    break
                times.append(t)
                rgb = frame.to_ndarray(format="rgb24")  # (H,W,3)
                if max_side and max(rgb.shape[:2]) > max_side:
                    k = max_side / max(rgb.shape[:2])
                    rgb = cv2.resize(rgb, (round(rgb.shape[1] * k), round(rgb.shape[0] * k)),
                                     interpolation=cv2.INTER_AREA)
                # every tick strictly before t: choose prev or this frame, whichever is nearer
                while tick / fps < t:
                    if prev is None or abs(prev[0] - tick / fps) > abs(t - tick / fps):
                        selected.append(rgb)
                    else:
                        selected.append(prev[1])
                    tick += 1
                if tick / fps == t:
                    selected.append(rgb)
                    tick += 1
                prev = (t, rgb)
    except av.error.FFmpegError as exc:
        raise VideoError(f"cannot decode '{path}': {exc}") from exc
    if not times or prev is None:
        raise VideoError(f"'{path}' has no decodable video frames")
    frame_dur = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 1.0 / src_fps
    duration = times[-1] - min(times[0], 0.0) + frame_dur     # last frame's end
    n = num_ticks(duration, fps)
    while len(selected) < n:                                  # ticks after the last frame's start
        selected.append(prev[1])
    frames = np.stack(selected[:n])                            # (N,H,W,3)
    log.debug("%s: %d frames at %.3g fps -> %d at %g fps (%.3f s)", path, len(times), src_fps, n, fps, duration)
    return VideoClip(frames=frames, duration=float(duration), source_fps=src_fps, has_audio=has_audio)
