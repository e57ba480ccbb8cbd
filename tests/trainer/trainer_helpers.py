"""Synthetic assets for the trainer tests: PyAV videos of the astronaut, tiny models on disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


def write_video(path: Path, seconds: float = 4.0, fps: int = 30, audio: str | None = "tone", side: int = 320,
                sample_rate: int = 16000) -> Path:
    """astronaut face, translated/rotated a little per frame; audio: "tone", "silence" or None."""
    import av
    import cv2
    from skimage import data

    img = data.astronaut()[:300, 100:400]                       # face region, (300,300,3)
    img = cv2.resize(np.ascontiguousarray(img), (side, side))
    n = int(round(seconds * fps))
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width = vs.height = side
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast"}
        aus = out.add_stream("aac", rate=sample_rate) if audio else None
        if aus is not None:
            aus.layout = "mono"
        for i in range(n):
            m = cv2.getRotationMatrix2D((side / 2, side / 2), 3 * np.sin(i / 5), 1.0)
            m[:, 2] += (2 * np.sin(i / 7), 2 * np.cos(i / 9))
            frame = cv2.warpAffine(img, m, (side, side), borderMode=cv2.BORDER_REFLECT)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if aus is not None:
            t = np.arange(int(seconds * sample_rate)) / sample_rate
            wave = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
            if audio == "silence":
                wave = np.zeros_like(t)
            wave = wave.astype(np.float32)
            step = 1024
            for s in range(0, len(wave), step):
                af = av.AudioFrame.from_ndarray(wave[None, s:s + step], format="fltp", layout="mono")
                af.sample_rate = sample_rate
                af.pts = s
                for pkt in aus.encode(af):
                    out.mux(pkt)
            for pkt in aus.encode():
                out.mux(pkt)
    return path


def write_tiny_liveportrait(root: Path) -> Path:
    from playmate_core import FaceEngineConfig, build_face_modules, save_weights
    torch.manual_seed(0)
    save_weights(build_face_modules(FaceEngineConfig.tiny()), root, "safetensors")
    return root


def write_tiny_encoder(root: Path) -> Path:
    from playmate_core.audio import build_random_encoder
    build_random_encoder("tiny").save_pretrained(str(root))
    return root


def write_random_vgg19(path: Path) -> Path:
    from trainer.vgg19 import VGG19
    torch.manual_seed(0)
    torch.save(VGG19().state_dict(), str(path))
    return path


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test (importing this fixture into a test module turns it on there)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
