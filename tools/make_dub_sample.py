"""Write the dubbing workflow's sample clip: NASA's public-domain astronaut portrait (scikit-image) moving a
little (a smooth rotation, shift and zoom, like a person talking), with a cut-away of a few frames that
shows no face (the part of the photo with the flag and the shuttle), then back to the face.

    python tools/make_dub_sample.py [--out workflows/assets/driving.mp4] [--seconds 2] [--fps 25]

Deterministic: the same arguments write the same frames (H.264 in mp4, yuv420p, no audio).
Frames CUTAWAY (0.8 s to 1.04 s at 25 fps) have no face, so the dub passes them through unchanged;
the e2e tests rely on this.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "workflows" / "assets" / "driving.mp4"
SIZE = 384                       # output side in pixels (the astronaut photo is 512 x 512)
CUTAWAY_S = (0.8, 1.04)          # seconds [start, end) showing no face
FACELESS_BOX = (300, 300, 512, 512)   # x0, y0, x1, y1 of the photo's flag / shuttle corner
CRF = 26


def face_frame(photo: np.ndarray, t: float) -> np.ndarray:
    """The photo at time t (s): rotation +-3 deg, shift +-6 px, zoom +-2 %, smooth and slow, resized to SIZE."""
    import cv2

    h, w = photo.shape[:2]
    angle = 3.0 * math.sin(2 * math.pi * 0.6 * t)
    zoom = 1.0 + 0.02 * math.sin(2 * math.pi * 0.35 * t + 1.0)
    m = cv2.getRotationMatrix2D((230.0, 130.0), angle, zoom)               # about the face centre
    m[:, 2] += (6.0 * math.sin(2 * math.pi * 0.45 * t), 4.0 * math.cos(2 * math.pi * 0.5 * t))
    moved = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return cv2.resize(moved, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def cutaway_frame(photo: np.ndarray) -> np.ndarray:
    import cv2

    x0, y0, x1, y1 = FACELESS_BOX
    return cv2.resize(np.ascontiguousarray(photo[y0:y1, x0:x1]), (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


def is_cutaway(index: int, fps: float) -> bool:
    """True for the frames (0-based index at fps) that show no face."""
    return CUTAWAY_S[0] <= index / fps < CUTAWAY_S[1]


def write_sample(out: Path, seconds: float = 2.0, fps: int = 25, crf: int = CRF) -> Path:
    import av
    from skimage.data import astronaut

    photo = astronaut()                                                      # 512,512,3 uint8
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for i in range(int(round(seconds * fps))):
            img = cutaway_frame(photo) if is_cutaway(i, fps) else face_frame(photo, i / fps)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args(argv)
    path = write_sample(args.out, args.seconds, args.fps)
    print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
