"""Which of LivePortrait's 21 implicit keypoints move which part of the face: the one map the blink,
silence and expression-editor edits read.

LivePortrait's keypoints are learned, not anatomical landmarks. What is known about them comes from
the regions its own code animates ("lip" = keypoints 6, 12, 14, 17, 19, 20; "eyes" = 11, 13, 15, 16, 18)
and from the keypoint offsets its Gradio retargeting panel and ComfyUI-AdvancedLivePortrait's editor
change for each slider. Read together, those give these roles (y points down the image, x to the
image's right, z towards the camera; all in the expression offset `exp`, which Eq. 2 adds after the
rotation and before the scale: x_d = s (x_c R + exp) + t):

    11 / 15   upper eyelid and iris of each eye: +y closes the eye, x / -y move the gaze
    13 / 16   lower eyelid of the same eyes (11 with 13, 15 with 16): -y closes, follows a smile
    1 / 2     the brows: raising moves 1 down and 2 up in y; frowning pulls them together in x
    14 / 20   mouth corners and upper lip: -y lifts them (smile), +y rounds the mouth (oo)
    17        lower lip: +y and +z in a smile, -z when the lips round
    19        jaw / lower lip opening: +y opens the mouth (LivePortrait's closed-lip template
              holds it highest of the lip keypoints)
    3 / 7     cheeks: -y lifts them (smile, oo)

The amounts below are this project's own calibration (one unit of a control = a strong, clearly
visible change), chosen in the range those editors use; they are offsets in LivePortrait's normalised
keypoint units (the face spans about 1 unit).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..motion.layout import NUM_KP
from .pose_edit import EYE_KEYPOINTS, LIP_KEYPOINTS

X, Y, Z = 0, 1, 2
EYE_A = (11, 13)              # (upper lid / iris, lower lid) of one eye
EYE_B = (15, 16)              # the other eye
BROWS = (1, 2)
CHEEKS = (3, 7)
LID_TRAVEL = 0.02             # upper-lid +y that closes an open eye (the editors' "eyes closed" end)
LOWER_LID_SHARE = 0.3         # the lower lid moves up this share of the upper lid's travel
POSE_CONTROLS = ("head_pitch", "head_yaw", "head_roll")

Entry = tuple                 # (keypoint, axis, offset per unit of the control)


def _closing(eyes) -> tuple:
    """Upper lids down by LID_TRAVEL, lower lids up by LOWER_LID_SHARE of it, for the given eye pairs."""
    out = []
    for upper, lower in eyes:
        out += [(upper, Y, LID_TRAVEL), (lower, Y, -LID_TRAVEL * LOWER_LID_SHARE)]
    return tuple(out)


def _scaled(entries, k: float) -> tuple:
    return tuple((kp, axis, k * v) for kp, axis, v in entries)


@dataclass(frozen=True)
class Control:
    """One editor control. value in [low, high]; the exp offset is value * positive for value >= 0 and
    |value| * negative below 0 (so a control may act differently in its two directions). Pose controls
    (no entries) add `value` degrees to pitch / yaw / roll instead. `side` marks a one-eye control: its
    entries are written for EYE_A and mirrored to EYE_B when EYE_B is the eye on that side."""
    name: str
    low: float
    high: float
    meaning: str
    positive: tuple = ()
    negative: tuple = ()
    side: str | None = None

    def keypoints(self) -> tuple:
        """Keypoints this control moves (for a one-eye control: those of EYE_A and EYE_B, one per call)."""
        idx = {kp for kp, _, _ in self.positive + self.negative}
        if self.side is not None:
            idx |= set(EYE_B)
        return tuple(sorted(idx))


_SMILE = ((14, Y, -0.02), (20, Y, -0.01), (17, Y, 0.006), (17, Z, 0.003), (3, Y, -0.003), (7, Y, -0.003),
          (13, Y, -0.003), (16, Y, -0.003))
_EYES_WIDE = _scaled(_closing((EYE_A, EYE_B)), -0.3)
CONTROLS = {c.name: c for c in (
    Control("smile", -1, 1, "+ lifts the mouth corners (14, 20), lowers and pushes forward the lower lip (17), "
            "lifts the cheeks (3, 7) and lower lids (13, 16); - turns the corners down",
            _SMILE, _scaled(_SMILE, -1)),
    Control("brow", -1, 1, "+ raises the brows (1 down, 2 up in y); - lowers and knits them (pulled together in x)",
            ((1, Y, 0.012), (2, Y, -0.012)), ((1, X, 0.008), (2, X, -0.008), (1, Y, -0.003), (2, Y, 0.003))),
    Control("eye_openness", -1, 1, "-1 closes both eyes (upper lids 11, 15 down, lower lids 13, 16 up); + opens "
            "them wider", _EYES_WIDE, _closing((EYE_A, EYE_B))),
    Control("wink_left", 0, 1, "closes the eye on the image's left (its upper and lower lid)",
            _closing((EYE_A,)), side="left"),
    Control("wink_right", 0, 1, "closes the eye on the image's right (its upper and lower lid)",
            _closing((EYE_A,)), side="right"),
    Control("pupil_x", -1, 1, "+ moves both irises (11, 15) to the image's right, - to the left",
            ((11, X, 0.012), (15, X, 0.012)), ((11, X, -0.012), (15, X, -0.012))),
    Control("pupil_y", -1, 1, "+ looks up (11, 15 up; the lower lids 13, 16 follow), - looks down",
            ((11, Y, -0.01), (15, Y, -0.01), (13, Y, -0.003), (16, Y, -0.003)),
            ((11, Y, 0.01), (15, Y, 0.01), (13, Y, 0.003), (16, Y, 0.003))),
    Control("mouth_aa", -1, 1, "+ opens the jaw ('aa': 19 down and forward, 17 up a little); - presses it shut",
            ((19, Y, 0.06), (19, Z, 0.006), (17, Y, -0.006)), ((19, Y, -0.02), (17, Y, 0.002))),
    Control("mouth_ee", -1, 1, "+ spreads the lips ('ee': corners 14, 20 up and 20 back)",
            ((20, Y, -0.015), (20, Z, -0.015), (14, Y, -0.015)), ((20, Y, 0.015), (20, Z, 0.015), (14, Y, 0.015))),
    Control("mouth_oo", -1, 1, "+ rounds the lips ('oo': 14 down, lower lip 17 back, cheeks 3, 7 up)",
            ((14, Y, 0.015), (17, Z, -0.0075), (3, Y, -0.0075), (7, Y, -0.0075)),
            ((14, Y, -0.015), (17, Z, 0.0075), (3, Y, 0.0075), (7, Y, 0.0075))),
    Control("head_pitch", -45, 45, "degrees added to pitch (nod)"),
    Control("head_yaw", -45, 45, "degrees added to yaw (turn)"),
    Control("head_roll", -45, 45, "degrees added to roll (tilt)"),
)}
CONTROL_NAMES = tuple(CONTROLS)


def eye_sides(kp: torch.Tensor) -> dict:
    """{"left": eye pair, "right": eye pair} as seen in the image, from the canonical keypoints' x of the two
    upper lids (1,21,3) (x grows to the image's right). Ties (e.g. all-zero kp) keep EYE_A on the left."""
    x = torch.as_tensor(kp).reshape(-1, NUM_KP, 3)[0, :, X]
    a_left = bool(x[EYE_A[0]] <= x[EYE_B[0]])
    return {"left": EYE_A if a_left else EYE_B, "right": EYE_B if a_left else EYE_A}


def control_offsets(name: str, kp: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) expression offsets per unit of control `name`, each (21,3) float32.
    kp (1,21,3), the canonical keypoints, is needed only by the one-eye controls (which eye is which side)."""
    control = CONTROLS[name]
    pair = EYE_A
    if control.side is not None:
        pair = eye_sides(torch.zeros(1, NUM_KP, 3) if kp is None else kp)[control.side]
    out = []
    for entries in (control.positive, control.negative):
        table = torch.zeros(NUM_KP, 3)
        for k, axis, v in entries:
            if control.side is not None and k in EYE_A:
                k = pair[EYE_A.index(k)]
            table[k, axis] += v
        out.append(table)
    return out[0], out[1]


def eye_opening(exp: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N,21,3) or (N,63) expression offsets -> (N,2) lower-lid minus upper-lid y of EYE_A and EYE_B:
    how much more open than the canonical face each eye is (a blink lowers it by (1 + LOWER_LID_SHARE) x
    LID_TRAVEL at full closure)."""
    e = np.asarray(exp.detach().cpu() if isinstance(exp, torch.Tensor) else exp, np.float64).reshape(-1, NUM_KP, 3)
    return np.stack([e[:, lo, Y] - e[:, up, Y] for up, lo in (EYE_A, EYE_B)], axis=1)


__all__ = ["CONTROLS", "CONTROL_NAMES", "POSE_CONTROLS", "Control", "EYE_A", "EYE_B", "BROWS", "CHEEKS",
           "LID_TRAVEL", "LOWER_LID_SHARE", "LIP_KEYPOINTS", "EYE_KEYPOINTS", "control_offsets", "eye_sides",
           "eye_opening"]
