"""Image normalisation: accepted inputs become (H, W, 3) uint8 RGB; bad inputs fail clearly."""
import numpy as np
import pytest
import torch

from playmate_core.crop import MIN_SIDE, resize_to_limit, to_rgb_uint8


def _ramp(h=70, w=80):
    return (np.arange(h * w * 3) % 256).astype(np.uint8).reshape(h, w, 3)


def test_uint8_rgb_passes_through():
    img = _ramp()
    out = to_rgb_uint8(img)
    assert out.dtype == np.uint8 and out.shape == (70, 80, 3)
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("shape", [(70, 80), (70, 80, 1)])
def test_grayscale_is_replicated(shape):
    gray = (np.arange(70 * 80) % 256).astype(np.uint8).reshape(shape)
    out = to_rgb_uint8(gray)
    assert out.shape == (70, 80, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray.reshape(70, 80))


def test_rgba_drops_alpha():
    rgb = _ramp()
    rgba = np.concatenate([rgb, np.zeros((70, 80, 1), np.uint8)], axis=2)
    np.testing.assert_array_equal(to_rgb_uint8(rgba), rgb)


def test_uint16_scales_by_257():
    img = _ramp().astype(np.uint16) * 257
    np.testing.assert_array_equal(to_rgb_uint8(img), _ramp())
    assert to_rgb_uint8(np.full((64, 64), 65535, np.uint16)).min() == 255


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_float_round_trip_is_exact(dtype):
    img = _ramp()
    out = to_rgb_uint8((img / 255.0).astype(dtype))
    tol = 1 if dtype == np.float16 else 0   # float16 cannot hold every k/255 exactly
    assert np.abs(out.astype(int) - img).max() <= tol


def test_torch_tensor_is_accepted():
    img = _ramp()
    out = to_rgb_uint8(torch.from_numpy(img.astype(np.float32) / 255))
    np.testing.assert_array_equal(out, img)


def test_float_out_of_range_names_fix():
    with pytest.raises(ValueError, match="divide by 255"):
        to_rgb_uint8(_ramp().astype(np.float32))
    slightly = np.full((64, 64, 3), 1.005, np.float32)   # ringing overshoot is clipped
    assert to_rgb_uint8(slightly).min() == 255


def test_small_image_error_names_image_size_and_minimum():
    with pytest.raises(ValueError) as err:
        to_rgb_uint8(np.zeros((63, 200, 3), np.uint8), name="source portrait")
    msg = str(err.value)
    assert "source portrait" in msg and "200x63" in msg and str(MIN_SIDE) in msg


@pytest.mark.parametrize("shape", [(2, 70, 80, 3), (3, 70, 80), (70, 80, 2), (70,)])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match="shape"):
        to_rgb_uint8(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.int8])
def test_bad_dtypes(dtype):
    with pytest.raises(ValueError, match="dtype"):
        to_rgb_uint8(np.zeros((70, 80, 3), dtype))


def test_nan_is_rejected():
    img = np.zeros((70, 80, 3), np.float32)
    img[3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        to_rgb_uint8(img)


def test_resize_to_limit_makes_even_by_trimming():
    img = _ramp(71, 99)
    out = resize_to_limit(img)
    assert out.shape == (70, 98, 3)
    np.testing.assert_array_equal(out, img[:70, :98])


def test_resize_to_limit_limits_longer_side():
    tall = np.zeros((2000, 999, 3), np.uint8)
    assert resize_to_limit(tall).shape == (1280, 638, 3)    # int(999 * 1280 / 2000) = 639 -> even
    wide = np.zeros((1001, 3000, 3), np.uint8)
    assert resize_to_limit(wide, max_side=1280).shape == (426, 1280, 3)
    square = np.zeros((1500, 1500, 3), np.uint8)
    assert resize_to_limit(square).shape == (1280, 1280, 3)
    assert resize_to_limit(tall, max_side=0).shape == (2000, 998, 3)   # no limit, only even
