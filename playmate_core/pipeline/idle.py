"""Natural idle behaviour for any motion (any backend): blinks and a mouth that closes in pauses.

    add_idle(motion, waveform, sample_rate, blink_rate, seed, silence_strength, min_pause, ease)
        pauses  = audio.pauses.find_pauses(waveform, sample_rate, min_pause)     from the audio itself
        motion  = silence.close_mouth(motion, silence_weights(pauses, ...))      lips only
        motion  = blinks.add_blinks(motion, blink_rate, seed)                   eyelids only

The two edits touch disjoint keypoints (LIP_KEYPOINTS vs the eyelids), so their order does not matter;
head pose and every other keypoint are unchanged. Deterministic: the same inputs and seed give the same
motion. The result carries "blink" and "silence" tracks for Motion Preview.
"""
from __future__ import annotations

import numbers

from ..audio.io import SAMPLE_RATE, prepare_waveform
from ..audio.pauses import find_pauses
from ..motion.sequence import MotionSequence
from .blinks import add_blinks
from .silence import EASE_S, close_mouth, pauses_for_motion, silence_weights

MIN_PAUSE_S = 0.35             # default: shorter silences (between words) keep the model's mouth


def add_idle(motion: MotionSequence, waveform, sample_rate: int, blink_rate: float = 15.0, seed: int = 0,
             silence_strength: float = 1.0, min_pause: float = MIN_PAUSE_S, ease: float = EASE_S) -> MotionSequence:
    """-> a new MotionSequence with blinks (blink_rate per minute, 0 = none) and the mouth eased closed in
    pauses of at least `min_pause` s (silence_strength 0..1, 0 = off). waveform: (S,), (C,S) or ComfyUI's
    (1,C,S) at sample_rate, the speech the motion was made for (its time 0 = the motion's frame 0)."""
    if not isinstance(motion, MotionSequence):
        raise ValueError(f"add_idle needs a MotionSequence (from Audio To Motion, Load Motion, ...), "
                         f"got {type(motion).__name__}")
    if isinstance(min_pause, bool) or not isinstance(min_pause, numbers.Real) or not 0.05 <= min_pause <= 10:
        raise ValueError(f"min_pause must be a number of seconds in [0.05, 10], got {min_pause!r}")
    wave = prepare_waveform(waveform, sample_rate)                                   # S at 16 kHz
    pauses = find_pauses(wave, SAMPLE_RATE, min_pause=min_pause)
    pauses = pauses_for_motion(pauses, len(wave) / SAMPLE_RATE, motion.duration, min_pause)
    weights = silence_weights(pauses, len(motion), float(motion.fps), silence_strength, ease)
    return add_blinks(close_mouth(motion, weights), blink_rate, seed)


__all__ = ["add_idle", "MIN_PAUSE_S"]
