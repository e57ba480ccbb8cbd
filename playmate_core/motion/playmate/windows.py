"""Long-audio windowing and stitching (motion-model.md §2.5-2.6), plus the trainer's prev-frame noising.

N frames are generated as windows of T = 80 frames, each conditioned on P = 10 previous frames:

    starts s_k = k * S (S = T - O = 70) while s_k + T < N, then one last window at s = N - T
    (N <= T: one window at 0; the caller pads the audio with silence and crops).
    prev of window k = final frames [s_k - P, s_k); frames before 0 are the source frame
    (exp normalised, pose z = 0) with null audio -- window 0 is the pure case.
    overlap [s_k, end of window k-1) is blended with a raised-cosine ramp
        alpha_i = 1/2 - 1/2 cos(pi (i + 1) / (O + 1)),  final = (1 - alpha) old + alpha new
    frames before s_k are never changed again, so every prev block is final when it is read.
    After all windows: a light 3-tap [1/4, 1/2, 1/4] average of the 7 pose dims around each seam.

The motion may carry extra dims between frames and values, (N, C, 70): C chains sampled side by side
(generate.py's pose-locked pair), each with its own previous frames; every operation is per chain and
per value, so chains that agree on some values agree on them after stitching too.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ..layout import POSE
from .scheduler import DDPMCosineScheduler

OVERLAP = 10              # O frames blended between consecutive windows
PREV_NOISE_STEPS = 50     # t_aug ~ U{0..49} for the previous frames in training (Hallo2-style)


def window_starts(n: int, window: int, stride: int) -> list:
    """Start frames of the windows covering n frames; the last one ends exactly at n (n >= window)."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window, stride))        # s_k + T < N
    return starts + [n - window]


def blend_ramp(length: int, device=None) -> torch.Tensor:
    """Raised-cosine weights (length,) strictly inside (0, 1), rising: the new window's share."""
    i = torch.arange(1, length + 1, dtype=torch.float32, device=device)
    return 0.5 - 0.5 * torch.cos(math.pi * i / (length + 1))


def previous_frames(final: torch.Tensor, start: int, prev: int, source_z: torch.Tensor) -> tuple:
    """Prev block of the window at `start`: ((P,[C,]70) normalised motion, (P,) bool 'virtual' mask).

    Virtual frames (index < 0) are the source frame; their audio is the null embedding."""
    idx = torch.arange(start - prev, start)
    virtual = idx < 0
    block = final[idx.clamp(min=0)].clone()                                   # P,70
    block[virtual] = source_z.reshape(-1).to(block)
    return block, virtual


def smooth_pose_seams(z: torch.Tensor, seams: list) -> torch.Tensor:
    """3-tap [1/4, 1/2, 1/4] average of the pose dims on frames [a - 1, b] of each blended seam [a, b).
    z (N,[C,]70)."""
    if not seams or z.shape[0] < 3:
        return z
    pose = z[..., POSE]
    smooth = pose.clone()
    smooth[1:-1] = 0.25 * pose[:-2] + 0.5 * pose[1:-1] + 0.25 * pose[2:]
    out = z.clone()
    for a, b in seams:
        lo, hi = max(a - 1, 1), min(b + 1, z.shape[0] - 1)
        out[lo:hi, ..., POSE] = smooth[lo:hi]
    return out


def stitch(n: int, window: int, prev: int, source_z: torch.Tensor,
           sample_window: Callable[[int, int, torch.Tensor, torch.Tensor], torch.Tensor],
           overlap: int = OVERLAP, chains: int | None = None) -> torch.Tensor:
    """Run `sample_window(k, start, prev_block (P,70), virtual (P,)) -> (T,70)` over all windows and
    return the stitched normalised motion (max(n, T), 70). With `chains` = C the blocks are (P,C,70)
    and (T,C,70) and the result (max(n, T), C, 70), every chain starting from source_z. Only the
    output sequence and one window live at a time, so memory does not grow with the number of windows."""
    total = max(n, window)
    shape = (source_z.shape[-1],) if chains is None else (chains, source_z.shape[-1])
    final = torch.zeros(total, *shape, dtype=torch.float32, device=source_z.device)
    written, seams = 0, []
    for k, start in enumerate(window_starts(total, window, window - overlap)):
        block, virtual = previous_frames(final, start, prev, source_z)
        new = sample_window(k, start, block, virtual).float()                 # T,70
        shared = written - start
        if shared > 0:
            ramp = blend_ramp(shared, final.device).view(-1, *[1] * len(shape))
            final[start:written] = torch.lerp(final[start:written], new[:shared], ramp)
            seams.append((start, written))
        final[start + max(shared, 0):start + window] = new[max(shared, 0):]
        written = start + window
    return smooth_pose_seams(final, seams)


def augment_previous_frames(prev: torch.Tensor, scheduler: DDPMCosineScheduler,
                            generator: torch.Generator | None = None,
                            max_steps: int = PREV_NOISE_STEPS) -> tuple:
    """Training-side noise augmentation of the previous frames (paper appendix eq. 9-10; Hallo2):

        t_aug ~ U{0..max_steps-1} per sample,  prev' = sqrt(abar_t) prev + sqrt(1 - abar_t) eps,
        with t_aug = 0 meaning clean (no noise at all).

    prev (B,P,70) normalised -> (prev' (B,P,70), t_aug (B,) int64). At inference prev is clean.
    """
    b = prev.shape[0]
    t_aug = torch.randint(0, max_steps, (b,), generator=generator)
    noise = torch.randn(prev.shape, generator=generator, dtype=torch.float32).to(prev)
    noisy = scheduler.add_noise(prev, noise, t_aug)
    clean = (t_aug == 0).to(prev.device).view(b, *([1] * (prev.ndim - 1)))
    return torch.where(clean, prev, noisy), t_aug


def start_previous_frames(reference_z: torch.Tensor, prev: int) -> torch.Tensor:
    """The 'start' case (p = 0.1 in training, window 0 at inference): the reference frame (B,70)
    repeated P times -> (B,P,70). Pair it with audio_null = True on the prev tokens."""
    return reference_z[:, None, :].expand(-1, prev, -1).clone()
