"""Shared by the dubbing tests and benchmarks/dub.py: short clips of a REAL talking face (the shared real-media
video, never shipped) on a still background, with frames where the person has left, at any frame rate.

Without ../shared/real-media (a fresh clone) the astronaut photo moving (tools/make_dub_sample.py) stands in,
so the tests still run; REAL_MEDIA tells which one was used."""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
REAL_MEDIA = ROOT.parent / "shared" / "real-media"
TALKING = REAL_MEDIA / "driving_talking.mp4"           # a real person talking, 512x512, 30 fps
PORTRAIT = REAL_MEDIA / "portrait_photo.jpg"            # another real face (the second person)
CANVAS = (360, 480)                                     # H, W of the test clips
FACE_SIDE = 240


def background(height: int = CANVAS[0], width: int = CANVAS[1]) -> np.ndarray:
    """A still, textured, face-free background (scikit-image's coffee cup photo)."""
    from skimage.data import coffee
    return cv2.resize(coffee(), (width, height), interpolation=cv2.INTER_AREA)


def talking_frames(count: int, start: int = 0) -> list[np.ndarray]:
    """`count` consecutive frames (H,W,3) uint8 of the real talking face (or the astronaut stand-in)."""
    if TALKING.is_file():
        out = []
        with av.open(str(TALKING)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i >= start:
                    out.append(frame.to_ndarray(format="rgb24"))
                if len(out) == count:
                    return out
        return out
    sys.path.insert(0, str(ROOT / "tools"))
    from make_dub_sample import face_frame                 # noqa: E402
    from skimage.data import astronaut
    return [face_frame(astronaut(), (start + i) / 25) for i in range(count)]


def second_face() -> np.ndarray:
    """A second real face, cropped tight (RGB uint8, the face fills about 60 % of the side)."""
    if PORTRAIT.is_file():
        rgb = cv2.cvtColor(cv2.imread(str(PORTRAIT)), cv2.COLOR_BGR2RGB)
        return np.ascontiguousarray(rgb[217:867, 206:856])
    from skimage.data import astronaut
    return np.ascontiguousarray(astronaut()[35:215, 135:315])


def two_people(count: int) -> list[np.ndarray]:
    """Two people in view: the talking person (left) shrinks while the second (right) grows, so the larger face
    changes from left to right halfway through."""
    faces, other, bg = talking_frames(count), second_face(), background()
    out = []
    for i in range(count):
        t = i / max(1, count - 1)
        left, right = int(260 - 120 * t), int(90 + 140 * t)
        out.append(place(place(bg, faces[i], 10, 40, left), other, 240, 60, right))
    return out


def place(canvas: np.ndarray, image: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
    """canvas with `image` resized to side x side pasted at (x, y) (clipped at the canvas border)."""
    out = canvas.copy()
    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    h, w = out.shape[:2]
    x1, y1 = min(w, x + side), min(h, y + side)
    out[y:y1, x:x1] = small[: y1 - y, : x1 - x]
    return out


def scene(pattern: str, start: int = 0) -> list[np.ndarray]:
    """Frames of one shot: 'F' = the talking person in view, '.' = the person has left (background only)."""
    faces = talking_frames(len(pattern), start)
    bg = background()
    return [place(bg, faces[i], 40, 50, FACE_SIDE) if c == "F" else bg.copy() for i, c in enumerate(pattern)]


def write_clip(path: Path, frames: list[np.ndarray], fps=25, crf: int = 12) -> Path:
    """H.264 mp4 (yuv420p) of `frames` at `fps` (a Fraction for 29.97: Fraction(30000, 1001))."""
    rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt, stream.options = "yuv420p", {"crf": str(crf)}
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def tone(seconds: float, sr: int = 16000) -> np.ndarray:
    """(1, S) float32 speech-band tone bursts (the audio content does not matter to the video path)."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.2 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)))[None].astype(np.float32)
