"""Huge images are converted in row blocks and downscaled to the pixel limit before the cropper sees them."""
import tracemalloc

import numpy as np
import pytest
import torch

from playmate_core.crop.images import batch_to_uint8, fit_pixels


def test_small_batches_convert_exactly_like_comfyui_savers():
    images = torch.rand(2, 70, 90, 3)
    images[0, 0, 0] = torch.tensor([1.5, -0.2, float("nan")])
    out, note = batch_to_uint8(images, max_pixels=10_000)
    expect = (torch.nan_to_num(images, nan=0.0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    assert note == "" and out.dtype == np.uint8 and np.array_equal(out, expect)


def test_alpha_and_numpy_inputs():
    out, _ = batch_to_uint8(np.ones((1, 64, 64, 4), np.float32), max_pixels=1e6)
    assert out.shape == (1, 64, 64, 3) and (out == 255).all()


def test_huge_frame_is_downscaled_to_the_limit_with_bounded_temporaries():
    images = torch.full((1, 3000, 4000, 3), 0.5)                  # 12 MP, 144 MB of float32 already in memory
    tracemalloc.start()
    out, note = batch_to_uint8(images, max_pixels=1_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.shape[1] * out.shape[2] <= 1_000_000 and out.shape[1:3] == fit_pixels(3000, 4000, 1_000_000)
    assert abs(out.shape[2] / out.shape[1] - 4 / 3) < 0.01 and (out == 128).all()
    assert "4000x3000 px (12.0 MP), above the 1.0 MP limit; downscaled" in note
    assert peak < 0.7 * 3000 * 4000 * 3 * 4                       # one uint8 frame + row blocks, never a float copy


@pytest.mark.parametrize("shape", [(64, 64, 3), (1, 64, 64)])
def test_wrong_layout_is_refused(shape):
    with pytest.raises(ValueError, match=r"IMAGE batch \(B, H, W, 3\)"):
        batch_to_uint8(torch.zeros(shape), name="the image")
