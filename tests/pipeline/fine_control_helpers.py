"""Shared by the fine-control tests (idle, expression edit, preview tracks): speech-like audio with pauses,
motions with an open mouth, and a tiny engine + source portrait (stub landmarks, no detector)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from playmate_core.motion import MotionSequence

SR = 16000


def syllables(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Voiced syllables of 120-250 ms (harmonics under a Hann envelope) with 40-90 ms noisy dips between."""
    out, n = [], int(seconds * SR)
    while sum(map(len, out)) < n:
        k = int(rng.uniform(0.12, 0.25) * SR)
        t = np.arange(k) / SR
        f0 = rng.uniform(110, 180)
        out.append(sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8)) * np.hanning(k) * 0.4)
        out.append(rng.standard_normal(int(rng.uniform(0.04, 0.09) * SR)) * 0.02)
    return np.concatenate(out)[:n]


def speech_with_pauses(layout, seed: int = 0, noise_db: float = -55.0) -> np.ndarray:
    """layout: [("speech"|"pause", seconds), ...] -> (S,) 16 kHz waveform over steady background noise."""
    rng = np.random.default_rng(seed)
    parts = [syllables(s, rng) if kind == "speech" else np.zeros(int(s * SR)) for kind, s in layout]
    wave = np.concatenate(parts)
    return wave + rng.standard_normal(len(wave)) * 10 ** (noise_db / 20)


def talking_motion(n: int, fps: float = 25.0, seed: int = 0, origin: str = "audio") -> MotionSequence:
    """A random, smooth-ish motion whose mouth is open throughout (jaw keypoint 19 down by 0.02-0.04)."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, 70, generator=g) * 0.005
    values[:, 63:66] = torch.randn(n, 3, generator=g).cumsum(0) * 0.3           # wandering head pose
    values[:, 69] = 1.5
    values[:, 19 * 3 + 1] += 0.03 + 0.01 * torch.sin(torch.arange(n) * 0.7)      # jaw open
    kp = torch.randn(1, 21, 3, generator=g) * 0.2
    return MotionSequence(values=values, kp=kp, fps=fps, trained=False, origin=origin)


class StubLandmarks:
    """106 fixed points on the astronaut's face (the cropper needs landmarks; no detector in unit tests)."""
    name = "stub"

    def detect(self, image_rgb):
        from playmate_core.crop.detection import DetectedFace
        from playmate_core.crop.geometry import IF106_EYES, IF106_LIPS
        rng = np.random.default_rng(0)
        pts = np.c_[rng.uniform(179, 271, 106), rng.uniform(71, 177, 106)]
        pts[list(IF106_EYES[0])], pts[list(IF106_EYES[1])], pts[list(IF106_LIPS)] = (203, 102), (246, 104), (223, 147)
        return [DetectedFace(landmarks=pts, box=np.array([179.0, 71, 271, 177]), score=1.0, layout="insightface106")]

    def close(self):
        pass


@pytest.fixture(scope="module")
def engine(tiny_modules, tiny_cfg):
    from playmate_core import FaceEngine
    return FaceEngine(tiny_modules, tiny_cfg)


@pytest.fixture(scope="module")
def source(engine):
    from skimage.data import astronaut
    from playmate_core.crop import FaceCropper
    from playmate_core.pipeline import prepare_source
    cropper = FaceCropper()
    cropper._backend = StubLandmarks()
    return prepare_source(engine, cropper, astronaut())
