"""Crop geometry on closed-form landmark sets (no detector, no images)."""
import math

import numpy as np
import pytest

from playmate_core.crop import (
    LAYOUT_POINTS,
    anchor_points,
    crop_box,
    crop_matrices,
    invert,
    layout_for,
    transform_points,
)
from playmate_core.crop.geometry import IF106_EYES, IF106_LIPS, LP203_EYES, LP203_LIPS


def synthetic_106(eye=(200.0, 100.0), lip=(200.0, 160.0), half_extent=50.0, seed=0):
    """106 points in a square of side 2*half_extent around the eye/lip midpoint, anchors placed."""
    rng = np.random.default_rng(seed)
    eye, lip = np.asarray(eye), np.asarray(lip)
    mid = (eye + lip) / 2
    pts = mid + rng.uniform(-half_extent, half_extent, (106, 2))
    pts[0], pts[1] = mid - half_extent, mid + half_extent       # fix the extent exactly
    offset = np.array([20.0, 0.0])
    pts[list(IF106_EYES[0])] = eye - offset
    pts[list(IF106_EYES[1])] = eye + offset
    pts[list(IF106_LIPS)] = lip
    return pts


def rotate(pts, degrees, centre):
    t = math.radians(degrees)
    r = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return (pts - centre) @ r.T + centre


def test_layouts_by_point_count():
    assert {layout_for(n) for n in LAYOUT_POINTS.values()} == set(LAYOUT_POINTS)
    with pytest.raises(ValueError, match="unsupported landmark count 68"):
        layout_for(68)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        crop_matrices(np.zeros((106, 3)))


def test_anchor_points_per_layout():
    pts = np.zeros((478, 2))
    pts[468], pts[473], pts[14] = (10, 20), (30, 20), (20, 50)
    eye, lip = anchor_points(pts)
    np.testing.assert_allclose(eye, (20, 20))
    np.testing.assert_allclose(lip, (20, 50))

    pts = np.zeros((468, 2))
    pts[[33, 133]] = (0, 0), (10, 0)
    pts[[362, 263]] = (30, 4), (40, 4)
    pts[14] = (20, 40)
    eye, lip = anchor_points(pts)
    np.testing.assert_allclose(eye, (20, 2))

    pts = np.zeros((203, 2))
    pts[list(LP203_EYES[0])] = (0, 0)
    pts[list(LP203_EYES[1])] = (40, 0)
    pts[list(LP203_LIPS)] = (18, 30), (22, 34)
    eye, lip = anchor_points(pts)
    np.testing.assert_allclose(eye, (20, 0))
    np.testing.assert_allclose(lip, (20, 32))


def test_level_eyes_give_zero_angle_and_expected_box():
    pts = synthetic_106()
    box = crop_box(pts, scale=2.3, vy_ratio=-0.125)
    assert box.angle == 0.0
    np.testing.assert_allclose(box.ux, (1, 0))
    side = 100.0 * 2.3
    assert box.size == pytest.approx(side)
    np.testing.assert_allclose(box.center, (200.0, 130.0 - 0.125 * side))
    m_o2c, _ = crop_matrices(pts)
    s = 512 / side
    np.testing.assert_allclose(m_o2c[:2, :2], s * np.eye(2), atol=1e-6)
    # the box centre lands in the middle of the crop
    np.testing.assert_allclose(transform_points([box.center], m_o2c)[0], (256, 256), atol=1e-3)


@pytest.mark.parametrize("degrees", [90.0, -90.0, 30.0])
def test_rotated_face_gives_rotation(degrees):
    pts = synthetic_106()
    centre = np.array([200.0, 130.0])
    rotated = rotate(pts, degrees, centre)
    m_up, _ = crop_matrices(pts)
    m_rot, _ = crop_matrices(rotated)
    s = 512 / (100.0 * 2.3)
    t = math.radians(degrees)
    # the crop undoes the face's rotation: linear part = s * R(-degrees)
    expected = s * np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
    np.testing.assert_allclose(m_rot[:2, :2], expected, atol=1e-3)
    # so each landmark lands where it lands for the upright face
    np.testing.assert_allclose(transform_points(rotated, m_rot), transform_points(pts, m_up),
                               atol=0.05)


def test_axis_aligned_crop_without_rotation():
    rotated = rotate(synthetic_106(), 30.0, np.array([200.0, 130.0]))
    m_o2c, _ = crop_matrices(rotated, rotate=False)
    assert m_o2c[0, 1] == 0 and m_o2c[1, 0] == 0 and m_o2c[0, 0] == m_o2c[1, 1] > 0


def test_inverse_and_round_trip():
    pts = rotate(synthetic_106(seed=3), 17.0, np.array([210.0, 120.0]))
    m_o2c, m_c2o = crop_matrices(pts)
    assert m_o2c.dtype == np.float32 and m_c2o.dtype == np.float32
    assert m_o2c.shape == m_c2o.shape == (3, 3)
    np.testing.assert_allclose(m_c2o @ m_o2c, np.eye(3), atol=1e-5)
    back = transform_points(transform_points(pts, m_o2c), m_c2o)
    np.testing.assert_allclose(back, pts, atol=1e-3)
    np.testing.assert_allclose(invert(m_o2c[:2]), m_c2o)


def test_scale_and_vertical_shift():
    pts = synthetic_106()
    wide, _ = crop_matrices(pts, scale=4.6)
    normal, _ = crop_matrices(pts, scale=2.3)
    assert wide[0, 0] == pytest.approx(normal[0, 0] / 2, rel=1e-6)
    up = crop_box(pts, vy_ratio=-0.2).center
    down = crop_box(pts, vy_ratio=0.2).center
    assert up[1] < down[1] and up[0] == pytest.approx(down[0])


def test_degenerate_anchor_falls_back_to_upright():
    pts = synthetic_106(eye=(200.0, 130.0), lip=(200.0, 130.0))
    box = crop_box(pts)
    np.testing.assert_allclose(box.uy, (0, 1))
    with pytest.raises(ValueError, match="zero pixels"):
        crop_matrices(np.full((106, 2), 5.0))


def test_float32_landmarks_are_supported():
    pts = synthetic_106()
    m64, _ = crop_matrices(pts)
    m32, _ = crop_matrices(pts.astype(np.float32))
    np.testing.assert_allclose(m32, m64, rtol=1e-5, atol=1e-3)
