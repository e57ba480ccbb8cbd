"""LPIPS v0.1 (AlexNet): public file layouts, strict loading, and the metric's basic behaviour.

Random networks are written as the two public files (torchvision ``alexnet-owt-7be5be79.pth``, a
full AlexNet state dict, and LPIPS ``weights/v0.1/alex.pth``, the five linear heads) and read back
through ``load_lpips``. The heads are made non-negative, as the published ones are.
"""
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from playmate_core.eval.lpips import LPIPS, load_lpips, lpips_distance
from playmate_core.loading import CheckpointError

ALEXNET_KEYS = {                      # torchvision AlexNet, features.* (conv weights and biases)
    "features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5), "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,),
}
CLASSIFIER_KEYS = {                   # present in the torchvision file, unused by LPIPS
    "classifier.1.weight": (4096, 9216), "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}
LINEAR_KEYS = {f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate((64, 192, 384, 256, 256))}


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    model = LPIPS().eval()
    with torch.no_grad():
        for index in range(5):
            model.heads[index].model[1].weight.abs_()
    return model


@pytest.fixture(scope="module")
def files(reference, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lpips")
    trunk = OrderedDict(reference.trunk.state_dict())
    # full-shape classifier tensors over one-element storages keep the file small
    trunk.update((k, torch.zeros(()).expand(shape)) for k, shape in CLASSIFIER_KEYS.items())
    torch.save(trunk, folder / "alexnet-owt-7be5be79.pth")
    torch.save(OrderedDict(reference.heads.state_dict()), folder / "alex.pth")
    return folder / "alexnet-owt-7be5be79.pth", folder / "alex.pth"


@pytest.fixture(scope="module")
def model(files):
    return load_lpips(*files)


@pytest.fixture(scope="module")
def image():
    return cv2.resize(astronaut(), (96, 96), interpolation=cv2.INTER_AREA)


def test_layout_matches_the_public_files():
    net = LPIPS()
    assert {k: tuple(v.shape) for k, v in net.trunk.state_dict().items()} == ALEXNET_KEYS
    assert {k: tuple(v.shape) for k, v in net.heads.state_dict().items()} == LINEAR_KEYS


def test_loaded_model_reproduces_the_saved_one(reference, model, image):
    assert not model.training
    rng = np.random.default_rng(0)
    other = np.clip(image + rng.normal(0, 25, image.shape), 0, 255).astype(np.uint8)
    a, b = np.stack([image, other]), np.stack([other, image[::-1]])
    got = lpips_distance(model, a, b)
    expected = lpips_distance(reference, a, b)
    assert got.shape == (2,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert np.all(got > 0)


def test_identical_images_are_at_distance_zero(model, image):
    assert lpips_distance(model, image[None], image[None])[0] == 0.0


def test_distance_rises_with_noise_and_blur(model, image):
    rng = np.random.default_rng(1)
    noisy = [np.clip(image + rng.normal(0, s, image.shape), 0, 255).astype(np.uint8) for s in (5, 20, 60)]
    blurred = [cv2.GaussianBlur(image, (k, k), 0) for k in (3, 7, 15)]
    distorted = np.stack(noisy + blurred)
    d = lpips_distance(model, np.repeat(image[None], 6, axis=0), distorted, batch=4)
    assert 0 < d[0] < d[1] < d[2] and 0 < d[3] < d[4] < d[5]


def test_symmetric_and_batch_independent(model, image):
    rng = np.random.default_rng(2)
    a = np.stack([image, np.roll(image, 5, axis=0), image[:, ::-1]])
    b = np.clip(a + rng.normal(0, 15, a.shape), 0, 255).astype(np.uint8)
    d = lpips_distance(model, a, b, batch=3)
    np.testing.assert_allclose(lpips_distance(model, b, a, batch=1), d, rtol=1e-5)


def test_input_checks(model, image):
    with pytest.raises(ValueError, match=r"a \(1, 96, 96, 3\) and b \(1, 64, 96, 3\)"):
        lpips_distance(model, image[None], image[None, :64])
    with pytest.raises(ValueError, match="uint8"):
        lpips_distance(model, image[None] / 255.0, image[None] / 255.0)


def test_missing_files_name_the_public_file_and_flag(files, tmp_path):
    alexnet, linear = files
    with pytest.raises(FileNotFoundError) as info:
        load_lpips(tmp_path / "alexnet-owt-7be5be79.pth", linear)
    assert "alexnet-owt-7be5be79.pth" in str(info.value) and "--lpips-alexnet" in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        load_lpips(alexnet, tmp_path / "alex.pth")
    assert "weights/v0.1/alex.pth" in str(info.value) and "--lpips-linear" in str(info.value)


def test_missing_keys_and_swapped_files_are_refused(files, tmp_path):
    alexnet, linear = files
    heads = torch.load(linear, weights_only=True)
    del heads["lin4.model.1.weight"]
    broken = tmp_path / "alex.pth"
    torch.save(heads, broken)
    with pytest.raises(CheckpointError, match="first 'lin4.model.1.weight'") as info:
        load_lpips(alexnet, broken)
    assert str(broken) in str(info.value)
    with pytest.raises(CheckpointError, match="LPIPS AlexNet trunk.*first 'features.0.weight'"):
        load_lpips(linear, alexnet)
