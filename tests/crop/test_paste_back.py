"""Paste-back: the procedural mask equals LivePortrait's template; geometry round-trips."""
import hashlib

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from playmate_core.crop import crop_matrices, feather_mask, mask_to_original, paste_back
from playmate_core.crop.geometry import IF106_EYES, IF106_LIPS

# Measured on LivePortrait's src/utils/resources/mask_template.png (512x512, 8-bit grey).
TEMPLATE_SHA256 = "2b2d5e2b9f1ae383c1cbf88546fc65fc6d9cdc84f688501389156e27e2526bb9"
TEMPLATE_SUM = 62722395
TEMPLATE_FULL_PIXELS = 231361
TEMPLATE_ROW_START = [0, 15, 31, 47, 63, 79, 95, 111, 127, 143, 159, 175, 191, 207, 223, 239, 255]
TEMPLATE_DIAGONAL_5_16 = [7, 29, 52, 74, 97, 119, 142, 164, 187, 209, 232, 255]


def astronaut_landmarks():
    """106 synthetic points spanning the astronaut's face, with anchors on her eyes and mouth."""
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(179, 271, 106), rng.uniform(71, 177, 106)]
    pts[list(IF106_EYES[0])] = (203.0, 102.0)
    pts[list(IF106_EYES[1])] = (246.0, 104.0)
    pts[list(IF106_LIPS)] = (223.0, 147.0)
    return pts


def mask_u8():
    return np.rint(feather_mask() * 255).astype(np.uint8)


def test_mask_matches_template_exactly():
    m = mask_u8()
    assert m.shape == (512, 512)
    assert hashlib.sha256(m.tobytes()).hexdigest() == TEMPLATE_SHA256
    assert int(m.astype(np.int64).sum()) == TEMPLATE_SUM
    assert int((m == 255).sum()) == TEMPLATE_FULL_PIXELS


def test_mask_ramp_values():
    m = mask_u8()
    assert m[256, :17].tolist() == TEMPLATE_ROW_START
    assert m[:17, 256].tolist() == TEMPLATE_ROW_START
    assert m[256, -16:].tolist() == TEMPLATE_ROW_START[-1:0:-1]    # 239 ... 15 at the right
    assert m.diagonal()[5:17].tolist() == TEMPLATE_DIAGONAL_5_16   # rounded corner
    f = feather_mask()
    assert f.dtype == np.float32 and f.max() == 1.0 and f.min() == 0.0
    with pytest.raises(ValueError, match="ramp"):
        feather_mask(dsize=20, ramp=16)


@pytest.fixture(scope="module")
def smooth_face():
    """Blurred astronaut (double bilinear resampling is near exact on smooth images), matrices."""
    img = cv2.GaussianBlur(astronaut(), (0, 0), 2.0)
    m_o2c, m_c2o = crop_matrices(astronaut_landmarks())
    return img, m_o2c, m_c2o


def test_pasting_the_crop_back_reproduces_the_original(smooth_face):
    img, m_o2c, m_c2o = smooth_face
    crop = cv2.warpAffine(img, m_o2c[:2], (512, 512), flags=cv2.INTER_LINEAR)
    out = paste_back(crop, m_c2o, img)
    assert out.shape == img.shape and out.dtype == np.uint8
    face = (slice(71, 178), slice(179, 272))
    assert np.abs(out[face].astype(int) - img[face]).max() <= 2
    outside = mask_to_original(m_c2o, img.shape[:2])[..., 0] == 0
    np.testing.assert_array_equal(out[outside], img[outside])


def test_misaligned_paste_is_detected(smooth_face):
    """Guard for the test above: a 1-pixel shift must break the 2-level tolerance."""
    img, m_o2c, m_c2o = smooth_face
    shifted = m_o2c.copy()
    shifted[0, 2] += m_o2c[0, 0]                 # one original pixel to the left
    crop = cv2.warpAffine(img, shifted[:2], (512, 512), flags=cv2.INTER_LINEAR)
    out = paste_back(crop, m_c2o, img)
    assert np.abs(out[71:178, 179:272].astype(int) - img[71:178, 179:272]).max() > 10


def test_float_input_and_precomputed_mask(smooth_face):
    img, m_o2c, m_c2o = smooth_face
    crop = cv2.warpAffine(img, m_o2c[:2], (512, 512), flags=cv2.INTER_LINEAR)
    as_float = crop.astype(np.float32) / 255.0 + 1e-4   # the reference truncates: same uint8
    mask_ori = mask_to_original(m_c2o, img.shape[:2])
    np.testing.assert_array_equal(paste_back(as_float, m_c2o, img, mask_ori=mask_ori),
                                  paste_back(crop, m_c2o, img))


def test_odd_source_gives_even_output(smooth_face):
    img, m_o2c, m_c2o = smooth_face
    odd = img[:301, :257]
    crop = cv2.warpAffine(odd, m_o2c[:2], (512, 512), flags=cv2.INTER_LINEAR)
    out = paste_back(crop, m_c2o, odd)
    assert out.shape == (300, 256, 3)


def test_bad_inputs(smooth_face):
    img, _, m_c2o = smooth_face
    with pytest.raises(ValueError, match="square"):
        paste_back(np.zeros((512, 256, 3), np.uint8), m_c2o, img)
    with pytest.raises(ValueError, match="2x3 or 3x3"):
        paste_back(np.zeros((512, 512, 3), np.uint8), np.eye(2), img)
    with pytest.raises(ValueError, match="mask_to_original"):
        paste_back(np.zeros((512, 512, 3), np.uint8), m_c2o, img,
                   mask_ori=np.zeros((10, 10, 1), np.float32))
