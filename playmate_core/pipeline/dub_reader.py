"""Video dubbing, input: decode a source video with PyAV, in order or in any order, in bounded memory.

    open_source(video)            a path or a seekable binary file (ComfyUI's VIDEO.get_stream_source())
    probe(video)                  the video stream's frame rate (exact rational) and frame-count estimate
    decode_frames(video)          yields (pts, (H,W,3) uint8 RGB) for every frame, in order (one pass)
    FrameReader(video, pts).get(k)    frame k (0-based, in presentation order) for any sequence of k:
        forward requests decode on; a backward request (ping-pong, a loop's wrap) seeks to the key frame
        at or before max(0, k - block + 1), decodes that block into a cache and serves the following
        backward requests from it. Memory: at most `block` frames (block_for(...) keeps it under
        CACHE_BYTES), whatever the clip length.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

CACHE_BYTES = 96 * 2**20          # frames kept for backward reads (ping-pong), whatever the clip length
MAX_BLOCK = 48


def open_source(video):
    """An av InputContainer for a path (str / Path) or a seekable binary file (rewound first)."""
    import av
    if isinstance(video, (str, Path)):
        if not Path(video).is_file():
            raise FileNotFoundError(f"video file '{video}' does not exist")
        target = str(video)
    elif hasattr(video, "read") and hasattr(video, "seek"):
        video.seek(0)
        target = video
    else:
        raise ValueError(f"video must be a file path or a seekable binary file (io.BytesIO), got "
                         f"{type(video).__name__}")
    try:
        container = av.open(target, mode="r")
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot read the video ({exc}); give an mp4/mov/webm/mkv file with a video track") from exc
    if not container.streams.video:
        container.close()
        raise ValueError("the file has no video track; give a video (mp4, mov, webm, mkv)")
    return container


def probe(video) -> tuple[Fraction, int]:
    """(frames per second of the first video stream, exact; the container's frame-count estimate, 0 if none)."""
    with open_source(video) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        estimate = int(stream.frames or 0)
        if not estimate and stream.duration and stream.time_base and rate:
            estimate = int(round(float(stream.duration * stream.time_base * rate)))
    if not rate or rate <= 0:
        raise ValueError("the video stream declares no frame rate; re-encode it with a constant frame rate")
    return Fraction(rate), estimate


def _rgb(frame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")                                  # H,W,3 uint8


def decode_frames(video) -> Iterator[tuple[int, np.ndarray]]:
    """(pts, RGB frame) for every decoded frame in presentation order; one frame in memory at a time."""
    with open_source(video) as container:
        for frame in container.decode(video=0):
            yield (frame.pts if frame.pts is not None else -1), _rgb(frame)


def block_for(height: int, width: int) -> int:
    """Frames a backward block may hold: as many as fit in CACHE_BYTES, between 1 and MAX_BLOCK."""
    return int(max(1, min(MAX_BLOCK, CACHE_BYTES // max(1, height * width * 3))))


class FrameReader:
    """Random access to the frames of one video by presentation index (see the module docstring).

    pts: (M,) the presentation time stamps of the M frames in order (from a decode_frames pass).
    """

    def __init__(self, video, pts, block: int = MAX_BLOCK):
        self.video, self.pts = video, np.asarray(pts, np.int64)
        self.index_of = {int(p): i for i, p in enumerate(self.pts)}
        self.can_seek = len(self.index_of) == len(self.pts) and int(self.pts.min(initial=0)) >= 0
        self.block = max(1, int(block))
        self.container = open_source(video)
        self.stream = self.container.streams.video[0]
        self.cache: dict[int, np.ndarray] = {}
        self._frames, self._next = None, 0                   # decoder iterator and the index it yields next
        self._pending = None                                 # a frame decoded by _restart, not yet used

    def close(self) -> None:
        self.container.close()
        self.cache.clear()

    def __enter__(self) -> "FrameReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, k: int) -> np.ndarray:
        """(H,W,3) uint8 RGB frame k, 0 <= k < M."""
        if not 0 <= k < len(self.pts):
            raise IndexError(f"frame {k} requested from a video of {len(self.pts)} frames")
        if k in self.cache:
            return self.cache[k]
        if self._frames is not None and k >= self._next:
            self.cache = {k: self._forward_to(k)}                   # the last frame stays for repeats
        else:
            self._fill_block(max(0, k - self.block + 1) if self._frames is not None else k, k)
        return self.cache[k]

    def _forward_to(self, k: int) -> np.ndarray:
        while True:
            frame = next(self._frames, None)
            if frame is None:
                raise ValueError(f"the video ended after {self._next} frames but frame {k} was expected; "
                                 f"the file changed while it was read")
            index = self._index(frame)
            self._next = index + 1
            if index == k:
                return _rgb(frame)

    def _index(self, frame) -> int:
        if frame.pts is None or not self.can_seek:
            return self._next
        return self.index_of.get(int(frame.pts), self._next)

    def _restart(self, lo: int) -> None:
        """Position the decoder so that it yields frame lo (or an earlier one) next."""
        if self.can_seek and lo > 0:
            self.container.seek(int(self.pts[lo]), stream=self.stream, backward=True, any_frame=False)
            self._frames = self.container.decode(self.stream)
            first = next(self._frames, None)
            if first is not None and self._index(first) <= lo:
                self._next = self._index(first)
                self._pending = first
                return
        self.container.close()                                     # no usable seek: decode from the start
        self.container = open_source(self.video)
        self.stream = self.container.streams.video[0]
        self._frames, self._next, self._pending = self.container.decode(self.stream), 0, None

    def _fill_block(self, lo: int, k: int) -> None:
        """Decode frames lo..k into the cache (the cache holds nothing else afterwards)."""
        self.cache = {}
        self._restart(lo)
        pending, self._pending = self._pending, None
        while True:
            frame = pending if pending is not None else next(self._frames, None)
            pending = None
            if frame is None:
                raise ValueError(f"the video ended before frame {k}; the file changed while it was read")
            index = self._index(frame)
            self._next = index + 1
            if lo <= index <= k:
                self.cache[index] = _rgb(frame)
            if index >= k:
                return


__all__ = ["open_source", "probe", "decode_frames", "FrameReader", "block_for"]
