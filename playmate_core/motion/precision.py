"""The motion model's dtype when precision is left on `auto` (nodes, main job, benchmarks).

On a CPU with native bf16 matrix units (Intel AMX, or AVX512-BF16) the motion model runs in bf16:
measured on this project's 2-core Xeon (Sapphire Rapids, AMX), base preset, 25 steps, audio +
emotion CFG: RTF 0.90 in bf16 against 1.93 in fp32 (README "Performance"). Elsewhere fp32: without
native bf16 the CPU emulates it and gains nothing. The sampler state stays fp32 in every case
(generate.py casts the network's eps to fp32), and the head pose stays exactly emotion-free in bf16
too (tests/motion/test_pose_decoupling.py). The renderer's dtype is not decided here.
"""
from __future__ import annotations

import torch

_PROBES = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")      # torch.cpu capability probes


def cpu_has_native_bf16() -> bool:
    """True when this CPU multiplies bf16 matrices natively (AMX tiles or AVX512-BF16)."""
    for name in _PROBES:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:                                          # a probe this build cannot answer
            continue
    return False


def auto_cpu_motion_dtype() -> torch.dtype:
    """bf16 on CPUs with native bf16 matrix units, else fp32."""
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
