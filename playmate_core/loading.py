"""Reading weight files and loading them strictly into modules.

* `.safetensors` first; legacy `.pth`/`.pt` through `torch.load(weights_only=True)` (no arbitrary
  unpickling).
* `load_strict` checks the key set, every shape and every non-float dtype before touching the
  module, and reports the file, the slot and the first bad key.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

log = logging.getLogger("playmate")


class CheckpointError(ValueError):
    """A weights file is unreadable or does not fit the slot it was given to."""


def read_state_dict(path: str | Path, slot: str) -> dict:
    """Read a state dict (or nested dict of tensors) from .safetensors or .pth/.pt/.bin, on CPU."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path), device="cpu")
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the same thing to the user
        raise CheckpointError(
            f"{slot}: cannot read '{path}' ({describe_read_error(exc)}). The file is truncated, corrupt "
            f"or not a weights file; download it again (see the README's model-files table)."
        ) from exc


def describe_read_error(exc: BaseException) -> str:
    """A decoder failure in words. torch's weights-only refusal advises weights_only=False, which would
    run whatever code the pickle holds: that advice is replaced, never passed on."""
    import pickle
    if isinstance(exc, pickle.UnpicklingError):
        return ("it holds Python objects besides tensors, a pickle that could run code when loaded; Playmate "
                "loads tensors only and refused it")
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], *, slot: str, path: str | Path,
                hint: str = "") -> None:
    """Copy `state` into `module`, refusing missing/unexpected keys and wrong shapes or dtypes.

    Floating-point tensors may come in any float dtype (fp16 conversions exist) and are cast;
    integer buffers (BatchNorm `num_batches_tracked`) must be integers.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    where = f"{slot}: '{path}'"
    if missing:
        raise CheckpointError(f"{where} is missing {len(missing)} key(s), first '{missing[0]}'"
                              f"{f' ({len(unexpected)} unexpected, first {unexpected[0]!r})' if unexpected else ''}."
                              f"{hint}")
    if unexpected:
        raise CheckpointError(f"{where} has {len(unexpected)} unexpected key(s), first '{unexpected[0]}'.{hint}")
    for key, ref in expected.items():
        got = state[key]
        if not isinstance(got, torch.Tensor):
            raise CheckpointError(f"{where}: key '{key}' holds {type(got).__name__}, not a tensor.{hint}")
        if tuple(got.shape) != tuple(ref.shape):
            raise CheckpointError(f"{where}: key '{key}' has shape {tuple(got.shape)}, expected "
                                  f"{tuple(ref.shape)}.{hint}")
        if got.dtype.is_floating_point != ref.dtype.is_floating_point:
            raise CheckpointError(f"{where}: key '{key}' has dtype {got.dtype}, expected {ref.dtype}.{hint}")
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
    log.debug("loaded %s from %s (%d tensors)", slot, path, len(expected))
