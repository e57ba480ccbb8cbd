"""Shared fixtures: tiny face engines written to disk in both public layouts. Never downloads.

Layout: tests/<area>/ mirrors playmate_core/<area>/ (audio, face, crop, motion, motion/joyvasa, pipeline, eval),
tests/trainer/ mirrors trainer/, tests/core/ holds the cross-cutting tests, tests/e2e/ the ComfyUI end-to-end
tests (a package), tests/data/ the checked-in key-layout manifests. Helpers: tests/nets.py for every folder
(`from nets import ...`), <folder>/<folder>_helpers.py within one folder. Only tests/e2e is a package, so test
and helper module basenames must be unique across tests/ (pytest's default import mode says "import file
mismatch" when two collide).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from playmate_core import FaceEngineConfig, build_face_modules, save_weights  # noqa: E402
from nets import randomize_norms  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data: checked-in files (the public checkpoints' key manifests), so no test needs ../shared."""
    return DATA


@pytest.fixture(scope="session")
def tiny_cfg() -> FaceEngineConfig:
    return FaceEngineConfig.tiny()


@pytest.fixture(scope="session")
def tiny_modules(tiny_cfg) -> dict:
    torch.manual_seed(0)
    return randomize_norms(build_face_modules(tiny_cfg))


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory, tiny_modules) -> dict:
    """{'official': root, 'safetensors': root} with the same tiny weights in each layout."""
    roots = {}
    for layout in ("official", "safetensors"):
        root = tmp_path_factory.mktemp(layout)
        save_weights(tiny_modules, root, layout)
        roots[layout] = root
    return roots


@pytest.fixture(scope="session")
def face_image() -> torch.Tensor:
    """The astronaut's face, 1x3x256x256 in [0,1] (a fixed square around the face, no detector)."""
    import numpy as np
    from skimage.data import astronaut

    img = astronaut()[20:276, 100:356].astype(np.float32) / 255.0
    return torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()
