"""Closed-form checks of the keypoint and pose math."""
import math

import numpy as np
import pytest
import torch

from playmate_core.face import keypoints as kpm


def test_bins_to_degrees_one_hot_and_uniform():
    logits = torch.full((3, 66), -1e4)
    for row, idx in enumerate([0, 65, 32]):
        logits[row, idx] = 0.0
    deg = kpm.bins_to_degrees(logits)
    assert torch.allclose(deg, torch.tensor([-97.5, 97.5, -1.5]))
    assert torch.allclose(kpm.bins_to_degrees(torch.zeros(1, 66)), torch.tensor([0.0]), atol=1e-5)  # mean of 0..65 = 32.5


def test_bins_to_degrees_passes_degrees_through():
    deg = torch.tensor([[12.0], [-3.0]])
    assert kpm.bins_to_degrees(deg) is deg


def test_rotation_identity_and_orthonormal():
    z = torch.zeros(1)
    assert torch.allclose(kpm.rotation_matrix(z, z, z), torch.eye(3)[None])
    r = kpm.rotation_matrix(torch.tensor([10.0]), torch.tensor([-35.0]), torch.tensor([70.0]))
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3)[None], atol=1e-6)
    assert torch.allclose(torch.linalg.det(r), torch.ones(1), atol=1e-6)


def test_rotation_90_degrees_each_axis():
    n, z = torch.tensor([90.0]), torch.zeros(1)
    ex, ey, ez = torch.eye(3)
    # kp @ R applies Rz.Ry.Rx to the column vector: yaw 90 maps x -> -z, pitch 90 maps y -> z, roll 90 maps x -> y.
    assert torch.allclose(ex @ kpm.rotation_matrix(z, n, z)[0], -ez, atol=1e-6)
    assert torch.allclose(ey @ kpm.rotation_matrix(n, z, z)[0], ez, atol=1e-6)
    assert torch.allclose(ex @ kpm.rotation_matrix(z, z, n)[0], ey, atol=1e-6)


def test_rotation_composition_order():
    p, y, r = torch.tensor([20.0]), torch.tensor([30.0]), torch.tensor([40.0])
    z = torch.zeros(1)
    composed = kpm.rotation_matrix(z, z, r)[0].T @ kpm.rotation_matrix(z, y, z)[0].T @ kpm.rotation_matrix(p, z, z)[0].T
    assert torch.allclose(kpm.rotation_matrix(p, y, r)[0], composed.T, atol=1e-6)


def test_transform_keypoints_closed_form():
    kp = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.5]]])
    exp = torch.tensor([[[0.1, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    yaw90 = torch.tensor([[90.0]])
    zero = torch.zeros(1, 1)
    x = kpm.transform_keypoints(kp, zero, yaw90, zero, exp, torch.tensor([[2.0]]), torch.tensor([[0.3, -0.2, 9.0]]))
    # yaw 90: (1,0,0) -> (0,0,-1); (0,1,0.5) -> (0.5,1,0); + exp; *2; + (0.3,-0.2) in x,y only (tz ignored)
    expected = torch.tensor([[[0.1 * 2 + 0.3, -0.2, -2.0], [1.0 + 0.3, 2.0 - 0.2, 0.0]]])
    assert torch.allclose(x, expected, atol=1e-6)


def test_transform_accepts_bin_logits_and_flat_shapes():
    torch.manual_seed(0)
    kp, exp = torch.randn(2, 63), torch.randn(2, 63) * 0.01
    logits = [torch.randn(2, 66) for _ in range(3)]
    scale, t = torch.rand(2, 1) + 0.5, torch.randn(2, 3)
    a = kpm.transform_keypoints(kp, *logits, exp, scale, t)
    b = kpm.transform_keypoints(kp.view(2, 21, 3), *[kpm.bins_to_degrees(l)[:, None] for l in logits],
                                exp.view(2, 21, 3), scale, t)
    assert a.shape == (2, 21, 3) and torch.allclose(a, b)


def test_motion_to_degrees_shapes():
    raw = {"kp": torch.zeros(2, 63), "exp": torch.zeros(2, 63), "pitch": torch.zeros(2, 66),
           "yaw": torch.zeros(2, 66), "roll": torch.zeros(2, 66), "t": torch.zeros(2, 3), "scale": torch.ones(2, 1)}
    m = kpm.motion_to_degrees(raw)
    assert m["kp"].shape == (2, 21, 3) and m["pitch"].shape == (2, 1) and m["scale"].shape == (2, 1)


def test_ratios_closed_form():
    lm = np.zeros((203, 2))
    lm[0], lm[12] = (0, 0), (10, 0)        # left eye width 10
    lm[6], lm[18] = (5, -2), (5, 2)        # opening 4
    lm[24], lm[36] = (20, 0), (28, 0)      # right eye width 8
    lm[30], lm[42] = (24, 0), (24, 2)      # opening 2
    lm[48], lm[66] = (0, 30), (20, 30)     # mouth width 20
    lm[90], lm[102] = (10, 28), (10, 33)   # opening 5
    assert np.allclose(kpm.eye_ratios(lm), [[0.4, 0.25]], atol=1e-6)
    assert np.allclose(kpm.lip_ratio(lm), [[0.25]], atol=1e-6)
    assert np.allclose(kpm.combined_eye_ratio([[0.4, 0.25]], 0.1), [[0.4, 0.25, 0.1]])
    with pytest.raises(ValueError, match="unknown landmark layout"):
        kpm.lip_ratio(lm, layout="dlib")


def test_ratio_eps_prevents_division_by_zero():
    lm = np.zeros((478, 2))
    assert np.all(np.isfinite(kpm.eye_ratios(lm, layout="mediapipe478")))
    assert math.isclose(float(kpm.lip_ratio(lm, layout="mediapipe478")[0, 0]), 0.0)
