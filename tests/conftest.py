"""Shared fixtures: tiny face engines written to disk in both public layouts. Never downloads."""
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

SHARED = ROOT.parent / "shared"


def randomize(modules: dict, seed: int = 0) -> dict:
    """Non-trivial random state: perturbed BatchNorm statistics and unconverged spectral-norm u, v."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules.values():
            for name, buf in module.named_buffers():
                if name.endswith("running_mean"):
                    buf.copy_(torch.randn(buf.shape, generator=g) * 0.1)
                elif name.endswith("running_var"):
                    buf.copy_(torch.rand(buf.shape, generator=g) + 0.5)
                elif name.endswith(("weight_u", "weight_v")):
                    buf.copy_(torch.nn.functional.normalize(torch.randn(buf.shape, generator=g), dim=0))
    return modules


@pytest.fixture(scope="session")
def tiny_cfg() -> FaceEngineConfig:
    return FaceEngineConfig.tiny()


@pytest.fixture(scope="session")
def tiny_modules(tiny_cfg) -> dict:
    torch.manual_seed(0)
    return randomize(build_face_modules(tiny_cfg))


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
