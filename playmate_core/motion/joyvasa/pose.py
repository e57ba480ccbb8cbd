"""Post-processing of de-normalised JoyVASA motion (N,70) in our layout: pose smoothing and
motion relative to the first generated frame, applied to the source face.

Pose smoothing is an exponential moving average over the 7 pose channels (pitch, yaw, roll in
degrees, t, scale); expression is never smoothed:

    y_0 = x_0,   y_i = (1 - a) x_i + a y_{i-1}        a = pose_smoothing in [0, 1)

The reference uses a = 0.99 (its EMA weight 0.01 on the new value), which holds the head almost
still; a = 0 turns smoothing off.

Relative motion (the reference renderer's default, region 'all'), with source s and frame 0 of the
generated sequence d_0:

    R     = R(d_i) R(d_0)^T R(s)              (row-vector matrices of keypoints.rotation_matrix)
    exp   = exp_s + exp_i - exp_0, except the lip keypoints LIP_KEYPOINTS, which take exp_i as is
    scale = scale_s * scale_i / scale_0
    t     = t_s + t_i - t_0, with t_z = 0
    and R is turned back into pitch/yaw/roll degrees (valid for |yaw| < 90).
"""
from __future__ import annotations

import torch

from ...face.keypoints import rotation_matrix
from ..layout import ANGLES, EXP, POSE, SCALE, TRANS

REFERENCE_POSE_SMOOTHING = 0.99
LIP_KEYPOINTS = (6, 12, 14, 17, 19, 20)      # keypoints whose expression the reference copies absolutely


def smooth_pose(values: torch.Tensor, a: float) -> torch.Tensor:
    """EMA over the pose channels of (N,70); a = 0 returns the input unchanged."""
    if a == 0 or values.shape[0] < 2:
        return values
    out = values.clone()
    for i in range(1, values.shape[0]):
        out[i, POSE] = (1 - a) * values[i, POSE] + a * out[i - 1, POSE]
    return out


def rotation_to_degrees(rot: torch.Tensor) -> torch.Tensor:
    """Inverse of keypoints.rotation_matrix: (B,3,3) -> (B,3) pitch, yaw, roll in degrees.

    With M = R^T = Rz(roll) Ry(yaw) Rx(pitch): M[2,0] = -sin(yaw), M[2,1] = cos(yaw) sin(pitch),
    M[2,2] = cos(yaw) cos(pitch), M[1,0] = sin(roll) cos(yaw), M[0,0] = cos(roll) cos(yaw).
    """
    m = rot.transpose(1, 2)
    pitch = torch.atan2(m[:, 2, 1], m[:, 2, 2])
    yaw = torch.asin((-m[:, 2, 0]).clamp(-1, 1))
    roll = torch.atan2(m[:, 1, 0], m[:, 0, 0])
    return torch.rad2deg(torch.stack([pitch, yaw, roll], dim=1))               # B,3


def relative_to_source(values: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """(N,70) generated motion + (1,70) source motion -> (N,70) motion of the source face (docstring)."""
    out = values.clone()
    first = values[:1]
    out[:, EXP] = source[:, EXP] + values[:, EXP] - first[:, EXP]
    lips = torch.tensor([3 * k + c for k in LIP_KEYPOINTS for c in range(3)])
    out[:, lips] = values[:, lips]
    rot = lambda v: rotation_matrix(v[:, 63], v[:, 64], v[:, 65])               # noqa: E731  (B,3,3)
    r_new = rot(values) @ rot(first).transpose(1, 2) @ rot(source)              # N,3,3
    out[:, ANGLES] = rotation_to_degrees(r_new)
    out[:, SCALE] = source[:, SCALE] * values[:, SCALE] / first[:, SCALE]
    out[:, TRANS] = source[:, TRANS] + values[:, TRANS] - first[:, TRANS]
    out[:, 68] = 0.0                                                             # t_z
    return out
