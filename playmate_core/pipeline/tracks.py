"""Per-frame control tracks carried on a MotionSequence (`MotionSequence.tracks`) for display.

A motion edit (blinks, silence, the expression editor) returns a new sequence whose `tracks` holds, next
to the tracks it already had, one (N,) float32 curve per thing it did: "blink" (eyelid closure 0..1),
"silence" (mouth-closing weight 0..1), "edit:<control>" (an editor control's value per frame). Rendering
never reads them; Motion Preview draws them. Motion files do not store them.
"""
from __future__ import annotations

import dataclasses

import torch

from ..motion.sequence import MotionSequence

EDIT_PREFIX = "edit:"


def edited(motion: MotionSequence, values: torch.Tensor, tracks: dict | None = None) -> MotionSequence:
    """A copy of `motion` with new values (N,70) (same N), `normalised` dropped (it no longer matches)
    and `tracks` (name -> (N,) curve) added to the motion's own (a new curve replaces one of the same name)."""
    n = len(motion)
    if values.shape[0] != n:
        raise ValueError(f"an edit must keep the frame count ({n}), got {values.shape[0]} frames")
    merged = dict(motion_tracks(motion))
    for name, curve in (tracks or {}).items():
        curve = torch.as_tensor(curve, dtype=torch.float32).reshape(-1).cpu()
        if curve.shape[0] != n:
            raise ValueError(f"track {name!r} has {curve.shape[0]} values for a {n}-frame motion")
        merged[str(name)] = curve
    return dataclasses.replace(motion, values=values, normalised=None, tracks=merged or None)


def motion_tracks(motion: MotionSequence) -> dict:
    """The motion's tracks whose length matches its frame count (others, e.g. after a length change by
    code that copied the field along, are ignored). Sequences from before the field existed have none."""
    tracks = getattr(motion, "tracks", None) or {}
    return {k: v for k, v in tracks.items() if torch.as_tensor(v).reshape(-1).shape[0] == len(motion)}


__all__ = ["edited", "motion_tracks", "EDIT_PREFIX"]
