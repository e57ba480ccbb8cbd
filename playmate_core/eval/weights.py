"""File checks shared by the metric networks' loaders (the reading itself is playmate_core.loading).

Every metric network loads a public weights file from a path the user gives; nothing is downloaded.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..loading import CheckpointError, read_state_dict

BN_COUNTER = "num_batches_tracked"


def require_file(path, *, slot: str, public: str, flag: str) -> Path:
    """Path(path) if it is a file, else FileNotFoundError naming the path, the public file and the CLI flag."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{slot} weights not found: '{path}'. Expected {public}; download it yourself and "
                                f"pass its path with {flag} (nothing is downloaded automatically).")
    return path


def read_weights(path: Path, slot: str, hint: str = "") -> dict:
    """The state dict in `path` (safetensors, or .pth via torch.load(weights_only=True)); CheckpointError otherwise."""
    state = read_state_dict(path, slot)
    if not isinstance(state, dict):
        raise CheckpointError(f"{slot}: '{path}' holds a {type(state).__name__}, not a state dict.{hint}")
    return state


def fill_batchnorm_counters(state: dict, module: nn.Module) -> dict:
    """Add the module's BatchNorm `num_batches_tracked` counters (as 0) where the file lacks them
    (converted and pre-0.4.1 PyTorch files have none; they do not affect eval-mode outputs)."""
    out = dict(state)
    for key, ref in module.state_dict().items():
        if key.endswith(BN_COUNTER) and key not in out:
            out[key] = torch.zeros_like(ref)
    return out
