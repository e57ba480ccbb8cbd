"""Emotion tracks written as text (what a ComfyUI user types into a node):

    0-2.5 happy 3
    2.5-4 sad
    4-end surprised 1

One segment per line (or separated by ';'): `start-end emotion [intensity]`, seconds, `end` (or an
empty end) meaning "to the end of the audio". Lines starting with '#' are comments.
"""
from __future__ import annotations

import math
import re

from .labels import EMOTION_LABELS, INTENSITY_LEVELS

_SEGMENT = re.compile(r"^\s*(?P<start>[0-9]*\.?[0-9]+)\s*-\s*(?P<end>[0-9]*\.?[0-9]+|end)?\s+"
                      r"(?P<label>[A-Za-z]+)(?:\s+(?P<level>[0-9]+))?\s*$")


def parse_emotion_track(text: str, labels: tuple = EMOTION_LABELS) -> list:
    """Text -> [(start_s, end_s, label, intensity or None)] for `emotion_weights`; [] for blank text.

    Raises ValueError naming the line and the expected form.
    """
    segments = []
    for number, raw in enumerate(re.split(r"[;\n]", text or ""), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _SEGMENT.match(line)
        if m is None:
            raise ValueError(f"emotion track segment {number} ({raw.strip()!r}) is not 'start-end emotion [intensity]', "
                             f"e.g. '0-2.5 happy 3' or '2.5-end sad'")
        start = float(m["start"])
        end = math.inf if m["end"] in (None, "end") else float(m["end"])
        label = m["label"].lower()
        if label not in labels:
            raise ValueError(f"emotion track segment {number}: unknown emotion {m['label']!r}; valid: {', '.join(labels)}")
        level = None if m["level"] is None else int(m["level"])
        if level is not None and level not in INTENSITY_LEVELS:
            raise ValueError(f"emotion track segment {number}: intensity {level} must be one of {list(INTENSITY_LEVELS)}")
        if not start < end:
            raise ValueError(f"emotion track segment {number}: start {start} s must be before end {m['end']} s")
        segments.append((start, end, label, level))
    return segments
