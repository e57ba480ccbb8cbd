"""FaceCropper with the MediaPipe backend on a real face (skimage's astronaut), fully offline."""
import cv2
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from playmate_core.crop import CropInfo, FaceCropper, to_tensor, transform_points

pytest.importorskip("mediapipe")
pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")

FACE_BOX = (179, 71, 271, 177)        # astronaut's landmark extent (x0, y0, x1, y1), pixels
BOX_TOLERANCE = 4


@pytest.fixture(scope="module")
def cropper():
    face_cropper = FaceCropper(backend="mediapipe")
    yield face_cropper
    face_cropper.close()


@pytest.fixture(scope="module")
def image():
    return astronaut()


@pytest.fixture(scope="module")
def info(cropper, image):
    return cropper.crop(image, name="astronaut")


def grey(size=(256, 256)):
    return np.full((*size, 3), 128, np.uint8)


def test_landmarks_fall_on_the_face(info):
    assert info.layout == "mediapipe478" and info.landmarks.shape == (478, 2)
    assert info.landmarks.dtype == np.float32 and info.landmarks_crop.dtype == np.float32
    x0, y0, x1, y1 = FACE_BOX
    assert info.landmarks[:, 0].min() > x0 - BOX_TOLERANCE
    assert info.landmarks[:, 0].max() < x1 + BOX_TOLERANCE
    assert info.landmarks[:, 1].min() > y0 - BOX_TOLERANCE
    assert info.landmarks[:, 1].max() < y1 + BOX_TOLERANCE


def test_crop_is_plausible(info):
    assert info.crop_512.shape == (512, 512, 3) and info.crop_512.dtype == np.uint8
    assert info.input_256.shape == (256, 256, 3) and info.source_size == (512, 512)
    centre = transform_points([[256.0, 256.0]], info.M_c2o)[0]
    side = 512.0 / np.hypot(*info.M_o2c[0, :2])               # crop side in original pixels
    angle = np.degrees(np.arctan2(info.M_o2c[0, 1], info.M_o2c[0, 0]))
    assert 210 < centre[0] < 240 and 80 < centre[1] < 110     # face centre, moved up by vy
    assert 2.0 * 106 < side < 2.6 * 106                        # scale 2.3 x the face extent
    assert abs(angle) < 5
    # the face is centred horizontally and sits vy_ratio * 512 = 64 px below the middle
    lo, hi = info.landmarks_crop.min(axis=0), info.landmarks_crop.max(axis=0)
    np.testing.assert_allclose((lo + hi) / 2, (256, 256 + 0.125 * 512), atol=8)
    assert 512 / 2.3 - 10 < (hi - lo).max() < 512 / 2.3 + 1


def test_crop_pixels_and_round_trip(info, image):
    expected = cv2.warpAffine(image, info.M_o2c[:2], (512, 512), flags=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(info.crop_512, expected)
    small = cv2.resize(info.crop_512, (256, 256), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(info.input_256, small)
    np.testing.assert_allclose(transform_points(info.landmarks, info.M_o2c), info.landmarks_crop,
                               atol=1e-3)
    back = transform_points(info.landmarks_crop, info.M_c2o)
    np.testing.assert_allclose(back, info.landmarks, atol=1e-2)
    np.testing.assert_allclose(info.M_c2o @ info.M_o2c, np.eye(3), atol=1e-5)


@pytest.mark.parametrize("picture", ["grey", "noise"])
def test_no_face_error_names_image_and_fixes(cropper, picture):
    img = grey() if picture == "grey" else np.random.default_rng(0).integers(
        0, 256, (256, 256, 3), dtype=np.uint8)
    with pytest.raises(ValueError) as err:
        cropper.crop(img, name="my portrait")
    msg = str(err.value)
    for hint in ("my portrait", "no face", "larger", "insightface", "scale", "face_index"):
        assert hint in msg


def test_small_face_uses_full_range_fallback(cropper, image):
    side = 320                                      # face ~58 px in a 1024 px frame
    canvas = np.full((1024, 1024, 3), 120, np.uint8)
    y0, x0 = 300, 560
    canvas[y0:y0 + side, x0:x0 + side] = cv2.resize(image, (side, side),
                                                    interpolation=cv2.INTER_AREA)
    assert not cropper.backend._mesh_landmarks(canvas)   # FaceMesh alone misses it
    info = cropper.crop(canvas, name="small face")
    f = side / 512
    expected = np.array([x0 + FACE_BOX[0] * f, y0 + FACE_BOX[1] * f,
                         x0 + FACE_BOX[2] * f, y0 + FACE_BOX[3] * f])
    found = np.r_[info.landmarks.min(axis=0), info.landmarks.max(axis=0)]
    np.testing.assert_allclose(found, expected, atol=4)


def test_face_index_selects_and_reports_count(image):
    canvas = np.full((512, 1024, 3), 120, np.uint8)
    canvas[:, :512] = image
    canvas[128:448, 600:920] = cv2.resize(image, (320, 320), interpolation=cv2.INTER_AREA)
    big = FaceCropper(face_index=0).crop(canvas)
    small = FaceCropper(face_index=1).crop(canvas)
    assert np.ptp(big.landmarks[:, 0]) > np.ptp(small.landmarks[:, 0])
    assert small.landmarks[:, 0].min() > 600
    with pytest.raises(ValueError, match=r"face_index 2 requested but 2 face\(s\) found"):
        FaceCropper(face_index=2).crop(canvas, name="two faces")


def test_crop_video_skip_hold_error(cropper, image):
    frames = np.stack([image, grey((512, 512)), image])            # (T, H, W, 3)
    crops, kept = cropper.crop_video(frames, on_missing="skip")
    assert kept == [0, 2] and len(crops) == 2
    crops, kept = cropper.crop_video(frames, on_missing="hold")
    assert kept == [0, 1, 2] and all(isinstance(c, CropInfo) for c in crops)
    np.testing.assert_array_equal(crops[1].M_o2c, crops[0].M_o2c)     # previous frame's crop
    assert (crops[1].crop_512 == 128).mean() > 0.5                   # of the blank frame
    with pytest.raises(ValueError, match="frame 1"):
        cropper.crop_video(frames, on_missing="error", name="clip")
    with pytest.raises(ValueError, match="on_missing"):
        cropper.crop_video(frames, on_missing="drop")


def test_crop_video_leading_miss_and_no_face_at_all(cropper, image):
    frames = [grey((512, 512)), image]
    crops, kept = cropper.crop_video(frames, on_missing="hold")
    assert kept == [0, 1]
    np.testing.assert_array_equal(crops[0].M_o2c, crops[1].M_o2c)    # next found crop
    with pytest.raises(ValueError, match="any of the 2 frames"):
        cropper.crop_video([grey(), grey()], on_missing="hold")


def test_to_tensor(info):
    batch = to_tensor([info, info.input_256])
    assert batch.shape == (2, 3, 256, 256) and batch.dtype == torch.float32
    assert 0.0 <= float(batch.min()) and float(batch.max()) <= 1.0
    np.testing.assert_allclose(batch[0].permute(1, 2, 0).numpy() * 255, info.input_256,
                               atol=1e-3)
    assert to_tensor(info).shape == (1, 3, 256, 256)
    with pytest.raises(ValueError, match="uint8"):
        to_tensor(np.zeros((256, 256, 3), np.float32))
