"""FVD I3D: public key layout (both public files), strict loading, TF SAME padding, preprocessing, clips.

The random network is saved as the two public files are: `i3d_pretrained_400.pt` (VideoGPT's
conversion: a plain OrderedDict of 287 tensors, no BatchNorm counters, zip format) and `rgb_imagenet.pt`
(piergiaj's PyTorch 0.3 state dict: the same keys in torch's legacy format).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from playmate_core.eval.i3d import (I3D_FILES, I3DConfig, InceptionI3D, i3d_features, load_i3d, same_padding,
                                    video_clips)
from nets import randomize_norms
from playmate_core.loading import CheckpointError

PUBLIC_SHAPES = {
    "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
    "Conv3d_1a_7x7.bn.running_mean": (64,),
    "Conv3d_2c_3x3.conv3d.weight": (192, 64, 3, 3, 3),
    "Mixed_3b.b1b.conv3d.weight": (128, 96, 3, 3, 3),
    "Mixed_4f.b0.bn.running_var": (256,),
    "Mixed_5c.b3b.conv3d.weight": (128, 832, 1, 1, 1),
    "logits.conv3d.weight": (400, 1024, 1, 1, 1),
    "logits.conv3d.bias": (400,),
}
N_PUBLIC_KEYS = 287          # 57 conv+BN units x 5 tensors + logits weight and bias


def public_state(model: torch.nn.Module, seed: int = 0) -> OrderedDict:
    """Random BatchNorm statistics/affine terms; the state without `num_batches_tracked`, as published."""
    randomize_norms(model, seed, affine=True)
    return OrderedDict((k, v.clone()) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = InceptionI3D().eval()
    state = public_state(model)
    root = tmp_path_factory.mktemp("fvd")
    videogpt, piergiaj = root / I3D_FILES[0], root / I3D_FILES[1]
    torch.save(state, videogpt)
    torch.save(state, piergiaj, _use_new_zipfile_serialization=False)
    return model, state, {"videogpt": videogpt, "piergiaj": piergiaj}


def by_hand(clips: np.ndarray) -> torch.Tensor:
    """The documented preprocessing: every frame to 224x224 bilinear, [0, 255] -> [-1, 1], B x 3 x T x H x W."""
    b, t = clips.shape[:2]
    x = torch.from_numpy(clips).flatten(0, 1).permute(0, 3, 1, 2).float() / 255
    x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False) * 2 - 1
    return x.view(b, t, 3, 224, 224).permute(0, 2, 1, 3, 4)


def test_public_key_names_and_shapes(saved):
    for path in saved[2].values():
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert len(state) == N_PUBLIC_KEYS
        for key, shape in PUBLIC_SHAPES.items():
            assert tuple(state[key].shape) == shape, key
        assert not any(k.endswith("num_batches_tracked") or ".b3a." in k or k.startswith("logits.bn") for k in state)


def test_both_public_files_load_and_reproduce_saved_model(saved):
    model, state, paths = saved
    loaded = {name: load_i3d(path) for name, path in paths.items()}
    for net in loaded.values():
        assert not net.training and net.Conv3d_1a_7x7.bn.eps == 1e-3
        for key, value in state.items():
            assert torch.equal(net.state_dict()[key], value), key
    clips = np.random.default_rng(0).integers(0, 256, size=(1, 9, 24, 32, 3), dtype=np.uint8)
    feats = i3d_features(loaded["videogpt"], clips)
    assert feats.shape == (1, 400) and feats.dtype == np.float64
    with torch.no_grad():
        expected = model(by_hand(clips)).double().numpy()
    assert expected.std() > 0
    np.testing.assert_allclose(feats, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_videogpt_batchnorm_eps_option(saved):
    net = load_i3d(saved[2]["videogpt"], bn_eps=1e-5)
    assert {m.eps for m in net.modules() if isinstance(m, torch.nn.BatchNorm3d)} == {1e-5}


class Probe(torch.nn.Module):
    """Stand-in network exposing its input: (B, 3, T, 224, 224) -> (B, 3*T) per-frame means."""
    cfg = I3DConfig()

    def forward(self, x):
        return x.mean(dim=(3, 4)).flatten(1)


def test_preprocessing_and_chunking():
    clips = np.random.default_rng(1).integers(0, 256, size=(3, 10, 20, 30, 3), dtype=np.uint8)
    clips[0, 0] = 0
    clips[0, 1] = 255
    feats = i3d_features(Probe(), clips, batch=2)                                 # chunks of 2 and 1
    np.testing.assert_allclose(feats, Probe()(by_hand(clips)).double().numpy(), atol=1e-6)
    assert feats[0, 0] == pytest.approx(-1.0) and feats[0, 1] == pytest.approx(1.0)    # channel 0, frames 0, 1


def test_same_padding_is_tensorflow_same():
    assert same_padding(224, 7, 2) == (2, 3)         # the extra pixel goes after, as in TF
    assert same_padding(9, 3, 2) == (1, 1)
    assert same_padding(8, 3, 2) == (0, 1)
    assert same_padding(7, 7, 1) == (3, 3)
    assert same_padding(4, 2, 2) == (0, 0)
    for size in range(1, 30):
        for kernel in (1, 2, 3, 7):
            for stride in (1, 2):
                before, after = same_padding(size, kernel, stride)
                assert (size + before + after - kernel) // stride + 1 == math.ceil(size / stride)


def test_clips_shorter_than_nine_frames_are_refused():
    with pytest.raises(ValueError, match="I3D needs clips of at least 9 frames, got 8"):
        i3d_features(Probe(), np.zeros((1, 8, 16, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"uint8 RGB clips \(B, T, H, W, 3\)"):
        i3d_features(Probe(), np.zeros((1, 9, 16, 16, 3), dtype=np.float32))


def test_video_clips():
    video = np.random.default_rng(2).integers(0, 256, size=(40, 6, 5, 3), dtype=np.uint8)
    clips = video_clips(video)
    assert clips.shape == (2, 16, 6, 5, 3)
    np.testing.assert_array_equal(clips[1], video[16:32])
    overlapping = video_clips(video, clip_len=16, stride=8)
    assert overlapping.shape == (4, 16, 6, 5, 3)
    np.testing.assert_array_equal(overlapping[3], video[24:40])
    with pytest.raises(ValueError, match="at least clip_len=16 frames to cut one clip, got 10"):
        video_clips(video[:10])
    with pytest.raises(ValueError, match="clip_len must be >= 9"):
        video_clips(video, clip_len=4)


def test_missing_key_and_wrong_class_count_name_key_and_file(saved, tmp_path):
    _, state, _ = saved
    missing = OrderedDict((k, v) for k, v in state.items() if k != "logits.conv3d.bias")
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError) as err:
        load_i3d(tmp_path / "missing.pt")
    assert "logits.conv3d.bias" in str(err.value) and str(tmp_path / "missing.pt") in str(err.value)
    assert I3D_FILES[0] in str(err.value) and I3D_FILES[1] in str(err.value)
    kinetics600 = OrderedDict(state)
    kinetics600["logits.conv3d.weight"] = torch.zeros(600, 1024, 1, 1, 1)
    kinetics600["logits.conv3d.bias"] = torch.zeros(600)
    torch.save(kinetics600, tmp_path / "i3d_pretrained_600.pt")
    with pytest.raises(CheckpointError, match=r"logits.conv3d.weight' has shape \(600, 1024, 1, 1, 1\)"):
        load_i3d(tmp_path / "i3d_pretrained_600.pt")


def test_missing_file_names_path_files_and_flag(tmp_path):
    path = tmp_path / "models" / "i3d.pt"
    with pytest.raises(FileNotFoundError) as err:
        load_i3d(path)
    message = str(err.value)
    assert str(path) in message and "--i3d" in message
    assert all(name in message for name in I3D_FILES)
