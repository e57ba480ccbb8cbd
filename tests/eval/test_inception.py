"""FID Inception-v3: public key layout, strict loading through the real loader, preprocessing, FID quirks.

The random network is saved as pytorch-fid's pt_inception-2015-12-05-6726825d.pth is: a plain dict of
566 tensors (keys sorted, BatchNorm counters included) in torch's legacy (non-zip) format.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nets import randomize_norms
from playmate_core.eval.inception import (INCEPTION_FILE, InceptionConfig, InceptionV3FID, inception_features,
                                          load_inception)
from playmate_core.loading import CheckpointError

# Known entries of the public file (key -> shape); 94 conv+BN units x 6 tensors + fc weight and bias.
PUBLIC_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_1a_3x3.bn.num_batches_tracked": (),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_2.conv.weight": (192, 192, 7, 1),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
N_PUBLIC_KEYS = 566


def randomized_state(model: torch.nn.Module, seed: int = 0) -> dict:
    """Random BatchNorm statistics and affine terms (the default init leaves them trivial)."""
    randomize_norms(model, seed, affine=True)
    return {k: v.clone() for k, v in sorted(model.state_dict().items())}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = InceptionV3FID().eval()
    state = randomized_state(model)
    path = tmp_path_factory.mktemp("fid") / INCEPTION_FILE
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return model, state, path


def test_public_key_names_and_shapes(saved):
    _, _, path = saved
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert type(state) is dict and len(state) == N_PUBLIC_KEYS
    for key, shape in PUBLIC_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith("AuxLogits") for k in state)
    assert sum(k.endswith("num_batches_tracked") for k in state) == 94


def test_loaded_model_reproduces_saved_model(saved):
    model, state, path = saved
    loaded = load_inception(path)
    assert not loaded.training and next(loaded.parameters()).dtype == torch.float32
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    frames = np.random.default_rng(0).integers(0, 256, size=(1, 40, 56, 3), dtype=np.uint8)
    feats = inception_features(loaded, frames)
    assert feats.shape == (1, 2048) and feats.dtype == np.float64
    with torch.no_grad():
        expected = model(preprocess_by_hand(frames)).double().numpy()
    assert expected.std() > 0                                                     # non-degenerate features
    np.testing.assert_allclose(feats, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


class RowMeans(torch.nn.Module):
    """Stand-in network exposing its input: (B, 3, 299, 299) -> (B, 3*299) row means."""
    cfg = InceptionConfig()

    def forward(self, x):
        return x.mean(dim=3).flatten(1)


def preprocess_by_hand(frames: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    return F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1


def test_preprocessing_and_chunking():
    frames = np.random.default_rng(1).integers(0, 256, size=(5, 30, 20, 3), dtype=np.uint8)
    frames[0] = 0
    frames[1] = 255
    feats = inception_features(RowMeans(), frames, batch=2)                      # chunks of 2, 2, 1
    np.testing.assert_allclose(feats, RowMeans()(preprocess_by_hand(frames)).double().numpy(), atol=1e-6)
    assert np.allclose(feats[0], -1.0) and np.allclose(feats[1], 1.0)             # [0, 255] -> [-1, 1]


def test_fid_specific_pool_branches(saved):
    model = saved[0]
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block, cin, width, pool in ((model.Mixed_5b, 192, 32, "avg"), (model.Mixed_6c, 768, 192, "avg"),
                                        (model.Mixed_7b, 1280, 192, "avg"), (model.Mixed_7c, 2048, 192, "max")):
            x = torch.randn(1, cin, 4, 4, generator=g)
            tail = block(x)[:, -width:]                                           # the pool branch
            tf_avg = block.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
            zero_avg = block.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=True))
            maxed = block.branch_pool(F.max_pool2d(x, 3, 1, 1))
            want, others = (tf_avg, (zero_avg, maxed)) if pool == "avg" else (maxed, (tf_avg, zero_avg))
            torch.testing.assert_close(tail, want)
            assert all(not torch.allclose(tail, o) for o in others)


def test_file_without_batchnorm_counters_loads(saved, tmp_path):
    _, state, _ = saved
    slim = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / INCEPTION_FILE
    torch.save(slim, path)
    loaded = load_inception(path)
    assert torch.equal(loaded.fc.weight, state["fc.weight"])
    assert int(loaded.Mixed_6a.branch3x3.bn.num_batches_tracked) == 0


def test_missing_key_names_key_and_file(saved, tmp_path):
    _, state, _ = saved
    broken = {k: v for k, v in state.items() if k != "Mixed_7c.branch_pool.bn.running_var"}
    path = tmp_path / "broken.pth"
    torch.save(broken, path)
    with pytest.raises(CheckpointError) as err:
        load_inception(path)
    message = str(err.value)
    assert "Mixed_7c.branch_pool.bn.running_var" in message and str(path) in message
    assert INCEPTION_FILE in message


def test_missing_file_names_path_file_and_flag(tmp_path):
    path = tmp_path / "models" / INCEPTION_FILE
    with pytest.raises(FileNotFoundError) as err:
        load_inception(path)
    message = str(err.value)
    assert str(path) in message and INCEPTION_FILE in message and "--inception" in message


def test_features_reject_float_frames(saved):
    with pytest.raises(ValueError, match=r"uint8 RGB frames \(N, H, W, 3\)"):
        inception_features(saved[0], np.zeros((1, 8, 8, 3), dtype=np.float32))
