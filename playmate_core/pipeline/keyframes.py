"""Keyframed curves over time in a small text syntax, parsed strictly.

One curve:        "0:0, 1.5:1, 3:0"    seconds:value pairs, times >= 0 and strictly increasing
                  "0.4"                a constant
Several curves:   one per line (or separated by ";"), "name: curve", e.g.

                      smile: 0:0, 1.5:1, 3:0
                      head_yaw: 0:-10, 4:10      # comments after '#' are ignored

Between keys the value is linear in time; before the first key it holds the first value, after the
last key the last value. Every mistake raises ValueError naming the line, the text and the fix.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..motion.track_text import MAX_CHARS          # the one limit on text typed into a widget

SYNTAX = "'seconds:value, seconds:value, ...' (e.g. '0:0, 1.5:1, 3:0') or one constant value (e.g. '0.4')"


@dataclass(frozen=True)
class Curve:
    """Keys (times in seconds, strictly increasing; values), linear in between, held outside."""
    times: tuple
    values: tuple

    def at(self, t) -> np.ndarray:
        """Values at times t (seconds, any shape) -> float64 array of t's shape."""
        return np.interp(np.asarray(t, np.float64), self.times, self.values)

    @property
    def constant(self) -> bool:
        return len(set(self.values)) == 1


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {what} {text.strip()!r} is not a number; write {SYNTAX}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {what} {text.strip()!r} must be finite")
    return value


def parse_curve(text: str, low: float = -math.inf, high: float = math.inf, where: str = "curve") -> Curve:
    """Parse one curve (see the module doc); values must lie in [low, high]."""
    body = text.strip()
    if not body:
        raise ValueError(f"{where}: empty curve; write {SYNTAX}")
    if ":" not in body:
        keys = [(0.0, _number(body, "value", where))]
    else:
        keys = []
        for item in body.split(","):
            parts = item.split(":")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise ValueError(f"{where}: {item.strip()!r} is not a 'seconds:value' key; write {SYNTAX}")
            keys.append((_number(parts[0], "time", where), _number(parts[1], "value", where)))
    times = [t for t, _ in keys]
    if times[0] < 0:
        raise ValueError(f"{where}: time {times[0]:g} s is negative; times start at 0")
    for a, b in zip(times, times[1:]):
        if b <= a:
            raise ValueError(f"{where}: times must increase, but {b:g} s follows {a:g} s")
    for _, v in keys:
        if not low <= v <= high:
            raise ValueError(f"{where}: value {v:g} is outside [{low:g}, {high:g}]")
    return Curve(tuple(times), tuple(v for _, v in keys))


def parse_keyframes(text: str, ranges: Mapping[str, tuple]) -> dict:
    """Parse several named curves (see the module doc) -> {name: Curve}. ranges: name -> (low, high), the
    allowed names. Unknown or repeated names are errors."""
    if not isinstance(text, str):
        raise ValueError(f"keyframes must be text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ValueError(f"keyframes text is {len(text)} characters long; at most {MAX_CHARS} are accepted")
    curves: dict = {}
    entries = [(number, part) for number, raw in enumerate(text.splitlines(), 1)
               for part in raw.split("#", 1)[0].split(";")]
    for number, raw in entries:
        line = raw.strip()
        if not line:
            continue
        where = f"keyframes line {number} ({line!r})"
        name, sep, body = line.partition(":")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"{where}: expected 'name: curve', e.g. 'smile: 0:0, 1.5:1'")
        if name not in ranges:
            raise ValueError(f"{where}: unknown control {name!r}; controls are {', '.join(ranges)}")
        if name in curves:
            raise ValueError(f"{where}: {name!r} has a curve already; give each control one line")
        curves[name] = parse_curve(body, *ranges[name], where=where)
    return curves


__all__ = ["Curve", "parse_curve", "parse_keyframes", "SYNTAX"]
