"""ArcFace IResNet loading, identity embeddings, five-point alignment and CSIM (all offline).

Networks are random; files are written in the public arcface_torch ``backbone.pth`` layout (a plain
state dict saved with torch.save) and read back through the real loader. The face tests use
skimage's astronaut, a real portrait shipped with scikit-image.
"""
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from nets import randomize_norms
from playmate_core.eval.arcface import (IRESNET_PRESETS, IResNet, IResNetConfig, detect_config,
                                        identity_embeddings, load_arcface)
from playmate_core.eval.face_align import (ARCFACE_TEMPLATE, align_faces, csim, five_points,
                                          similarity_transform)
from playmate_core.loading import CheckpointError

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")

# Key -> shape facts of the public IResNet files (arcface_torch backbones/iresnet.py layout).
PUBLIC_KEYS = {
    "conv1.weight": (64, 3, 3, 3),
    "bn1.running_mean": (64,),
    "prelu.weight": (64,),
    "layer1.0.bn1.weight": (64,),
    "layer1.0.conv1.weight": (64, 64, 3, 3),
    "layer1.0.prelu.weight": (64,),
    "layer1.0.conv2.weight": (64, 64, 3, 3),
    "layer1.0.bn3.running_var": (64,),
    "layer1.0.downsample.0.weight": (64, 64, 1, 1),
    "layer1.0.downsample.1.weight": (64,),
    "layer2.0.conv1.weight": (128, 64, 3, 3),
    "layer2.0.downsample.0.weight": (128, 64, 1, 1),
    "layer4.0.conv2.weight": (512, 512, 3, 3),
    "bn2.weight": (512,),
    "fc.weight": (512, 25088),
    "fc.bias": (512,),
    "features.weight": (512,),
    "features.running_var": (512,),
    "features.num_batches_tracked": (),
}
# 18 keys per block (3 BN x 5, 2 convs, PReLU), 6 more per downsample (conv + BN), stem 7, head 12.
KEY_COUNTS = {"r50": 24 * 18 + 4 * 6 + 19, "r100": 49 * 18 + 4 * 6 + 19}
ASTRONAUT_FACE_BOX = (179, 71, 271, 177)    # landmark extent (x0, y0, x1, y1), see tests/crop/test_mediapipe.py


@pytest.fixture(scope="module")
def r18():
    torch.manual_seed(0)
    # every BatchNorm (statistics and affine terms) and PReLU non-default, so a lost key changes the output
    return randomize_norms(IResNet(IRESNET_PRESETS["r18"]), affine=True, prelu=True).eval()


@pytest.fixture(scope="module")
def r18_file(r18, tmp_path_factory):
    path = tmp_path_factory.mktemp("arcface") / "backbone.pth"
    torch.save(OrderedDict(r18.state_dict()), path)
    return path


def broadcast_state(model: torch.nn.Module) -> OrderedDict:
    """The model's keys and shapes with one-element storages (a full-shape file of a few KB)."""
    return OrderedDict((k, torch.zeros((), dtype=v.dtype).expand(v.shape)) for k, v in model.state_dict().items())


# -- layout and loading ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["r50", "r100"])
def test_layout_matches_the_public_backbones(name):
    state = IResNet(IRESNET_PRESETS[name], device="meta").state_dict()
    for key, shape in PUBLIC_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert len(state) == KEY_COUNTS[name]
    last = IRESNET_PRESETS[name].layers[2] - 1
    assert f"layer3.{last}.bn3.weight" in state and f"layer3.{last + 1}.bn1.weight" not in state
    assert detect_config(state) == IRESNET_PRESETS[name]


def test_config_round_trip_and_strict_keys():
    config = IRESNET_PRESETS["r100"]
    assert IResNetConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown IResNetConfig keys"):
        IResNetConfig.from_dict({**config.to_dict(), "depth": 100})


def test_loaded_model_reproduces_the_saved_one(r18, r18_file):
    model = load_arcface(r18_file)
    assert not model.training and model.config == IRESNET_PRESETS["r18"]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    x = torch.randn(1, 3, 112, 112, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = r18(x), model(x)
    assert got.shape == (1, 512)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_missing_file_names_the_public_file_and_flag(tmp_path):
    path = tmp_path / "nowhere" / "backbone.pth"
    with pytest.raises(FileNotFoundError) as info:
        load_arcface(path)
    message = str(info.value)
    assert str(path) in message and "ms1mv3_arcface_r100_fp16/backbone.pth" in message
    assert "--arcface" in message


def test_missing_key_and_foreign_file_are_refused(tmp_path):
    state = broadcast_state(IResNet(IRESNET_PRESETS["r50"], device="meta"))
    del state["layer2.3.bn2.running_var"]
    path = tmp_path / "backbone.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"missing 1 key\(s\), first 'layer2.3.bn2.running_var'") as info:
        load_arcface(path)
    assert str(path) in str(info.value)
    torch.save({"features.0.weight": torch.zeros(64, 3, 11, 11)}, path)
    with pytest.raises(CheckpointError, match="not an IResNet backbone"):
        load_arcface(path)


def test_identity_embeddings_are_unit_and_batch_independent(r18):
    faces = np.random.default_rng(0).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    emb = identity_embeddings(r18, faces, batch=1)
    assert emb.shape == (2, 512) and emb.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-12)
    # one batch of two, with the documented input normalisation: RGB, (x / 255 - 0.5) / 0.5
    x = (torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    with torch.no_grad():
        direct = torch.nn.functional.normalize(r18(x).double(), dim=1).numpy()
    np.testing.assert_allclose(emb, direct, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 112, 112, 3\)"):
        identity_embeddings(r18, faces[:, :100])


# -- alignment (closed form) -----------------------------------------------------------------------

def similarity(scale, degrees, shift):
    angle = np.radians(degrees)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([rotation, np.asarray(shift, float)[:, None]])


def apply(matrix, points):
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_similarity_transform_is_exact_for_exact_data():
    np.testing.assert_allclose(similarity_transform(ARCFACE_TEMPLATE, ARCFACE_TEMPLATE),
                               [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    known = similarity(2.7, -33.0, (120.0, 45.0))
    np.testing.assert_allclose(similarity_transform(ARCFACE_TEMPLATE, apply(known, ARCFACE_TEMPLATE)),
                               known, atol=1e-9)
    mirrored = ARCFACE_TEMPLATE * (-1, 1)                   # a reflection is never returned
    assert np.linalg.det(similarity_transform(mirrored, ARCFACE_TEMPLATE)[:, :2]) > 0
    with pytest.raises(ValueError, match="one point"):
        similarity_transform(np.ones((5, 2)), ARCFACE_TEMPLATE)


def test_align_undoes_a_known_similarity():
    face = cv2.resize(astronaut()[60:200, 155:295], (112, 112), interpolation=cv2.INTER_AREA)
    crop_to_frame = similarity(2.5, 20.0, (180.0, 40.0))
    frame = cv2.warpAffine(face, crop_to_frame, (480, 400), flags=cv2.INTER_CUBIC)
    points = apply(crop_to_frame, ARCFACE_TEMPLATE)
    aligned = align_faces(frame[None], points[None])
    assert aligned.shape == (1, 112, 112, 3) and aligned.dtype == np.uint8
    error = np.abs(aligned[0, 8:-8, 8:-8].astype(int) - face[8:-8, 8:-8]).mean()
    shuffled = np.abs(np.roll(face, 9, axis=1)[8:-8, 8:-8].astype(int) - face[8:-8, 8:-8]).mean()
    assert error < 4 < shuffled


# -- real face: MediaPipe five points and CSIM -----------------------------------------------------

@pytest.fixture(scope="module")
def portraits():
    image = astronaut()
    moved = similarity(0.9, 12.0, (0.0, 0.0))
    moved[:, 2] = (256, 256) - apply(moved, np.array([[256.0, 256.0]]))[0] + (25, -15)
    return image, cv2.warpAffine(image, moved, (512, 512)), moved


@pytest.fixture(scope="module")
def points(portraits):
    pytest.importorskip("mediapipe")
    image, rotated, _ = portraits
    return five_points(np.stack([image, rotated]))


def test_five_points_on_a_real_face(portraits, points):
    _, _, moved = portraits
    assert points.shape == (2, 5, 2) and points.dtype == np.float64
    left_eye, right_eye, nose, left_mouth, right_mouth = points[0]
    x0, y0, x1, y1 = ASTRONAUT_FACE_BOX
    assert np.all((points[0] > (x0, y0)) & (points[0] < (x1, y1)))
    assert left_eye[0] < nose[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])
    # the points follow the face through the shift/rotation
    np.testing.assert_allclose(points[1], apply(moved, points[0]), atol=2.0)


def test_csim_on_a_real_face(r18, portraits, points):
    image, rotated, _ = portraits
    aligned = align_faces(np.stack([image, rotated]), points)
    assert np.abs(aligned[0].astype(int) - aligned[1]).mean() < 6
    assert csim(r18, image, image[None]) == pytest.approx(1.0, abs=1e-6)
    assert 0.95 < csim(r18, image, rotated[None]) <= 1.0 + 1e-9


def test_no_face_names_the_frame(portraits):
    pytest.importorskip("mediapipe")
    image, _, _ = portraits
    with pytest.raises(ValueError, match="no face found in frame 1 of 2"):
        five_points(np.stack([image, np.full_like(image, 128)]))
