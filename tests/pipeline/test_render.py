"""pipeline.source and pipeline.render on a tiny random engine, with a stub landmark backend (no detector)."""
import types

import numpy as np
import pytest
import torch
from skimage.data import astronaut

from playmate_core import FaceEngine
from playmate_core.crop import FaceCropper, paste_back, to_tensor
from playmate_core.crop.detection import DetectedFace
from playmate_core.crop.geometry import IF106_EYES, IF106_LIPS
from playmate_core.motion import MotionSequence, motion_to_vector, vector_to_motion
from playmate_core.pipeline import (PortraitSource, extract_driving, output_size, prepare_source, render_frames,
                                    render_mask)


class StubBackend:
    """106 fixed points on the astronaut's face; no face in a flat (blank) image."""
    name = "stub"

    def detect(self, image_rgb):
        if image_rgb.std() < 1.0:
            return []
        rng = np.random.default_rng(0)
        pts = np.c_[rng.uniform(179, 271, 106), rng.uniform(71, 177, 106)]
        pts[list(IF106_EYES[0])], pts[list(IF106_EYES[1])], pts[list(IF106_LIPS)] = (203, 102), (246, 104), (223, 147)
        return [DetectedFace(landmarks=pts, box=np.array([179.0, 71, 271, 177]), score=1.0, layout="insightface106")]

    def close(self):
        pass


@pytest.fixture(scope="module")
def engine(tiny_modules, tiny_cfg):
    return FaceEngine(tiny_modules, tiny_cfg)


@pytest.fixture(scope="module")
def cropper():
    c = FaceCropper()
    c._backend = StubBackend()
    return c


@pytest.fixture(scope="module")
def source(engine, cropper):
    return prepare_source(engine, cropper, astronaut()[:511, :509])          # odd sides on purpose


def still(source, n, kp=None, fps=25.0):
    values = source.vector()[None].repeat(n, 1)
    values[:, 64] += torch.linspace(0, 8, n)                                 # a small yaw sweep
    return MotionSequence(values=values, kp=source.kp if kp is None else kp, fps=fps, trained=True)


def test_prepare_source(engine, source):
    assert isinstance(source, PortraitSource)
    assert source.image.shape == (511, 509, 3) and source.image.dtype == np.uint8
    assert source.f_s.shape == (1, 4, 16, 64, 64) and source.f_s.dtype == torch.float32
    assert source.f_s.device.type == "cpu" and source.x_s.shape == (1, 21, 3)
    assert set(source.motion) == {"kp", "exp", "pitch", "yaw", "roll", "t", "scale"}
    assert all(v.shape[0] == 1 and v.dtype == torch.float32 for v in source.motion.values())
    torch.testing.assert_close(source.x_s, engine.transform_keypoints(source.motion))
    assert source.mask.shape == (511, 509) and source.mask.dtype == np.float32
    assert source.mask.max() == 1.0 and source.mask.min() == 0.0
    assert source.vector().shape == (70,) and torch.equal(source.pose(), source.vector()[63:])
    assert float(source.pose()[0]) == float(source.motion["pitch"])


def test_prepare_source_errors(engine, cropper):
    with pytest.raises(ValueError, match="no face found in portrait"):
        prepare_source(engine, cropper, np.full((256, 256, 3), 128, np.uint8), name="portrait")
    with pytest.raises(ValueError, match="FaceCropper\\(dsize=512\\)"):
        prepare_source(engine, FaceCropper(dsize=768), astronaut())
    with pytest.raises(ValueError, match="engine must be a FaceEngine"):
        prepare_source(None, cropper, astronaut())


def manual_frame(engine, source, row, stitching=True):
    """The render equations written out for one 70-d row -> (512 crop, pasted frame)."""
    x_d = engine.transform_keypoints(vector_to_motion(row[None], source.kp))
    if stitching:
        x_d = engine.stitch(source.x_s, x_d)
    out = engine.warp_decode(source.f_s, source.x_s, x_d)
    crop = (out[0].permute(1, 2, 0).clamp(0, 1) * 255).to(torch.uint8).numpy()
    return crop, paste_back(crop, source.crop.M_c2o, source.image)


@pytest.fixture(scope="module")
def motion2(source):
    return still(source, 2, kp=torch.randn(1, 21, 3))                       # the motion's kp must be ignored


@pytest.fixture(scope="module")
def manual(engine, source, motion2):
    return manual_frame(engine, source, motion2.values[1])


def test_render_frames_matches_the_equations(engine, source, motion2, manual):
    calls = []
    frames = render_frames(engine, source, motion2, callback=lambda i, n: calls.append((i, n)))
    assert isinstance(frames, types.GeneratorType) and calls == []           # lazy
    first = next(frames)
    assert calls == [(1, 2)]                                                 # one frame rendered so far
    frames = [first, *frames]
    assert calls == [(1, 2), (2, 2)]
    assert output_size(source) == (510, 508) and output_size(source, paste_back=False) == (512, 512)
    assert all(f.shape == (510, 508, 3) and f.dtype == np.uint8 for f in frames)
    np.testing.assert_array_equal(frames[1], manual[1])
    assert not np.array_equal(frames[0], frames[1])                          # the yaw sweep shows


def test_crops_stitching_switch_and_masks(engine, source, motion2, manual):
    last = MotionSequence(values=motion2.values[1:], kp=motion2.kp, fps=25.0, trained=True)
    on = list(render_frames(engine, source, last, paste_back=False, batch=2))
    off = next(render_frames(engine, source, last, paste_back=False, stitching=False))
    assert len(on) == 1 and on[0].shape == (512, 512, 3)
    np.testing.assert_array_equal(on[0], manual[0])
    assert not np.array_equal(on[0], off)
    assert render_mask(source).shape == (510, 508) and render_mask(source).dtype == np.float32
    np.testing.assert_array_equal(render_mask(source), source.mask[:510, :508])
    assert render_mask(source, paste_back=False).shape == (512, 512) and render_mask(source, False).min() == 1.0


def test_render_cancel_and_validation(engine, source):
    def cancel(i, n):
        if i == 1:
            raise InterruptedError("stop")
    gen = render_frames(engine, source, still(source, 5), paste_back=False, callback=cancel)
    with pytest.raises(InterruptedError):
        list(gen)
    with pytest.raises(ValueError, match="motion must be a MotionSequence"):
        render_frames(engine, source, torch.zeros(3, 70))                   # raised at call time
    bad = still(source, 2)
    bad.values[1, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        render_frames(engine, source, bad)
    with pytest.raises(ValueError, match="batch must be"):
        render_frames(engine, source, still(source, 2), batch=0)


def test_extract_driving_skip_hold_and_errors(engine, cropper):
    face = astronaut()
    shifted = np.roll(face, 3, axis=1)
    blank = np.zeros_like(face)
    calls = []
    seq, kept = extract_driving(engine, cropper, [face, blank, shifted], fps=30, batch=1,
                                callback=lambda d, t: calls.append((d, t)))
    assert kept == [0, 2] and calls == [(1, 2), (2, 2)]
    assert seq.values.shape == (2, 70) and seq.origin == "driving" and seq.trained and seq.fps == 30.0
    crops, _ = cropper.crop_video([face, shifted])
    motion = engine.extract_motion(to_tensor(crops))
    torch.testing.assert_close(seq.values, motion_to_vector(motion), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(seq.kp, motion["kp"][:1])
    held, kept = extract_driving(engine, cropper, np.stack([face, blank, shifted]), fps=30, on_missing="hold")
    assert kept == [0, 1, 2] and held.values.shape == (3, 70)
    with pytest.raises(ValueError, match="no face found in any of the 2 frames"):
        extract_driving(engine, cropper, [blank, blank], fps=25)
    with pytest.raises(ValueError, match="fps must be the driving video's frame rate"):
        extract_driving(engine, cropper, [face], fps=0)
    with pytest.raises(KeyboardInterrupt):
        extract_driving(engine, cropper, [face, face], fps=25, batch=1,
                        callback=lambda d, t: (_ for _ in ()).throw(KeyboardInterrupt()))
