"""Emotion tracks written as text (what a ComfyUI user types into a node):

    0-2.5 happy 3
    2.5-4 sad
    4-end surprised 1

One segment per line (or separated by ';'): `start-end emotion [intensity]`, seconds, `end` (or an
empty end) meaning "until the next segment starts, or to the end of the audio". Lines starting with '#'
are comments. Segments may leave gaps (no emotion there); segments with explicit ends must not overlap
(refused, naming both). The result is in time order.
At most MAX_SEGMENTS segments and MAX_CHARS characters.
"""
from __future__ import annotations

import math
import re

from .labels import EMOTION_LABELS, INTENSITY_LEVELS

MAX_SEGMENTS = 1000
MAX_CHARS = 100_000

_SEGMENT = re.compile(r"^\s*(?P<start>[0-9]*\.?[0-9]+)\s*-\s*(?P<end>[0-9]*\.?[0-9]+|end)?\s+"
                      r"(?P<label>[A-Za-z]+)(?:\s+(?P<level>[0-9]+))?\s*$")


def parse_emotion_track(text: str, labels: tuple = EMOTION_LABELS) -> list:
    """Text -> [(start_s, end_s, label, intensity or None)] for `emotion_weights`; [] for blank text.

    Raises ValueError naming the line and the expected form.
    """
    if len(text or "") > MAX_CHARS:
        raise ValueError(f"the emotion track is {len(text)} characters long; at most {MAX_CHARS} are accepted")
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
        segments.append((start, end, label, level, number))
        if len(segments) > MAX_SEGMENTS:
            raise ValueError(f"the emotion track has more than {MAX_SEGMENTS} segments; merge neighbouring ones")
    ordered = sorted(segments)
    for i, (a, b) in enumerate(zip(ordered, ordered[1:])):
        if a[1] == math.inf:                                  # an open end runs until the next segment
            ordered[i] = a = (a[0], b[0], *a[2:])
            if not a[0] < a[1]:
                raise ValueError(f"emotion track segments {a[4]} and {b[4]} both start at {a[0]:g} s")
        if b[0] < a[1]:
            raise ValueError(f"emotion track segments {a[4]} ({a[0]:g}-{'end' if a[1] == math.inf else f'{a[1]:g}'} s) "
                             f"and {b[4]} (from {b[0]:g} s) overlap; let each segment start at or after the end of "
                             f"the one before, e.g. '0-2.5 happy' and '2.5-end sad'")
    return [seg[:4] for seg in ordered]
