"""Video dubbing, who / where / what (pipeline/dub_track.py, dub_crop.py, dub_motion.py): the tracker follows one
person, the crop track is smooth and holds still on a still shot, the crop warp is FaceCropper's, and the motion
mix keeps pose and eyes (pure, no detector)."""
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from playmate_core.crop import FaceCropper
from playmate_core.crop.detection import DetectedFace
from playmate_core.crop.geometry import crop_matrices
from playmate_core.motion.layout import ANGLES, EXP, POSE
from playmate_core.pipeline.dub_crop import (HOLD_PX, box_vector, crop_matrices_from_box, smooth_boxes,
                                             warp_crop)
from playmate_core.pipeline.dub_motion import dub_motion, keypoint_weights
from playmate_core.pipeline.dub_track import FaceTracker, box_iou
from playmate_core.pipeline.pose_edit import EYE_KEYPOINTS, LIP_KEYPOINTS


def face(x0, y0, side):
    box = np.array([x0, y0, x0 + side, y0 + side], np.float64)
    return DetectedFace(landmarks=np.zeros((478, 2)), box=box, score=1.0, layout="mediapipe478")


def ordered(*faces):
    return sorted(faces, key=lambda f: f.area, reverse=True)                 # what every backend returns


def test_face_index_picks_by_size_and_the_person_is_followed_when_sizes_swap():
    tracker = FaceTracker(face_index=1)
    kept = []
    for t in range(12):                        # A (left) shrinks from 120 to 76 px, B (right) grows 80 -> 124
        a, b = face(50 + t, 100, 120 - 4 * t), face(400 - t, 110, 80 + 4 * t)
        kept.append(tracker.update(ordered(a, b)))
    assert kept[0].box[0] > 300                       # frame 0: B is the smaller face, face_index 1
    assert all(k is not None and k.box[0] > 300 for k in kept)     # B throughout, though it becomes the larger


def test_a_person_who_leaves_is_waited_for_and_picked_up_again():
    tracker = FaceTracker(face_index=0)
    a, b = face(100, 100, 150), face(500, 100, 100)
    assert tracker.update(ordered(a, b)) is a
    assert tracker.update([b]) is None                # A left, B stays: B is not dubbed instead
    assert tracker.update([b]) is None
    back = face(110, 104, 148)
    assert tracker.update(ordered(back, b)) is back   # A is back near where it left


def test_an_empty_frame_starts_a_new_shot_with_face_index():
    tracker = FaceTracker(face_index=0)
    assert tracker.update([face(100, 100, 150)]) is not None
    assert tracker.update([]) is None                 # nobody in view (a cut-away)
    elsewhere = face(600, 300, 90)
    assert tracker.update([elsewhere]) is elsewhere   # new shot: the largest face again
    assert FaceTracker(face_index=2).update(ordered(face(0, 0, 50), face(100, 0, 40))) is None


def test_box_iou():
    a = np.array([0, 0, 10, 10.0])
    assert box_iou(a, a) == 1.0 and box_iou(a, a + 20) == 0.0
    assert box_iou(a, np.array([5, 0, 15, 10.0])) == pytest.approx(50 / 150)
    with pytest.raises(ValueError, match="face_index"):
        FaceTracker(face_index=-1)


def track(n, jitter=0.0, drift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    b = np.tile([200.0, 150.0, 300.0, 1.0, 0.0], (n, 1))
    b[:, 0] += drift * np.arange(n) + rng.normal(0, jitter, n)
    b[:, 1] += rng.normal(0, jitter, n)
    b[:, 2] += rng.normal(0, jitter, n)
    return b


def test_a_still_shot_gets_bit_identical_crops():
    boxes = track(40, jitter=0.15)                   # landmark noise of a few tenths of a pixel
    out = smooth_boxes(boxes, np.ones(40, bool), fps=25)
    assert all(np.array_equal(out[k], out[0]) for k in range(40))
    masks = {crop_matrices_from_box(b)[1].tobytes() for b in out}
    assert len(masks) == 1                           # one M_c2o, so one paste-back mask: nothing flickers


def test_motion_is_followed_and_jitter_reduced():
    boxes = track(60, jitter=1.0, drift=2.0)         # a head moving 2 px a frame with 1 px noise
    out = smooth_boxes(boxes, np.ones(60, bool), fps=25)
    truth = 200 + 2.0 * np.arange(60)
    inner = slice(6, -6)                             # away from the run's ends
    assert np.abs(out[inner, 0] - truth[inner]).std() < 0.6 * np.abs(boxes[inner, 0] - truth[inner]).std()
    assert np.abs(out[inner, 0] - truth[inner]).max() < 2.0 + HOLD_PX
    np.testing.assert_allclose(np.linalg.norm(out[:, 3:5], axis=1), 1.0)


def test_runs_are_smoothed_apart_and_gaps_stay_empty():
    boxes = track(20)
    boxes[12:] += [300.0, 0, 0, 0, 0]                # the face comes back elsewhere after the gap
    kept = np.ones(20, bool)
    kept[8:12] = False
    out = smooth_boxes(np.where(kept[:, None], boxes, 0.0), kept, fps=25)
    assert np.isnan(out[8:12]).all() and not np.isnan(out[kept]).any()
    np.testing.assert_allclose(out[:8, 0], 200.0)    # no pull from the other run
    np.testing.assert_allclose(out[12:, 0], 500.0)


def test_crop_warp_and_matrices_are_the_croppers():
    rng = np.random.default_rng(1)
    pts = np.c_[rng.uniform(180, 270, 478), rng.uniform(70, 180, 478)]
    pts[[468, 473, 14]] = (205, 102), (245, 106), (224, 150)          # iris centres and the lip point
    m_o2c, m_c2o = crop_matrices_from_box(box_vector(pts, 2.3, 0.0, -0.125, "mediapipe478"))
    ref_o2c, ref_c2o = crop_matrices(pts, scale=2.3, vx_ratio=0.0, vy_ratio=-0.125, layout="mediapipe478")
    np.testing.assert_allclose(m_o2c, ref_o2c, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(m_c2o, ref_c2o, rtol=1e-5, atol=1e-3)
    img = astronaut()
    ref = FaceCropper().crop_landmarks(img, pts, "mediapipe478")       # no detector needed
    crop, small = warp_crop(img, ref.M_o2c)
    np.testing.assert_array_equal(crop, ref.crop_512)
    np.testing.assert_array_equal(small, ref.input_256)
    assert crop.shape == (512, 512, 3) and small.shape == (256, 256, 3)


def test_motion_mix_keeps_pose_and_eyes_and_takes_the_lips():
    torch.manual_seed(0)
    own, gen = torch.randn(3, 70), torch.randn(3, 70)
    out = dub_motion(own, gen, keypoint_weights(lip_strength=1.0, expression_strength=0.0))
    exp_out, exp_own, exp_gen = (x[:, EXP].reshape(3, 21, 3) for x in (out, own, gen))
    lips, others = list(LIP_KEYPOINTS), [k for k in range(21) if k not in LIP_KEYPOINTS]
    torch.testing.assert_close(exp_out[:, lips], exp_gen[:, lips])
    assert torch.equal(exp_out[:, others], exp_own[:, others])
    assert torch.equal(out[:, POSE], own[:, POSE])
    half = dub_motion(own, gen, keypoint_weights(0.5, 1.0))
    eyes = list(EYE_KEYPOINTS)
    assert torch.equal(half[:, EXP].reshape(3, 21, 3)[:, eyes], exp_own[:, eyes])       # never the eyes
    brow = [k for k in others if k not in EYE_KEYPOINTS]
    torch.testing.assert_close(half[:, EXP].reshape(3, 21, 3)[:, brow], exp_gen[:, brow])
    torch.testing.assert_close(half[:, EXP].reshape(3, 21, 3)[:, lips], (exp_own + exp_gen)[:, lips] / 2)
    assert torch.equal(half[:, ANGLES], own[:, ANGLES])


def test_a_no_op_mix_is_exact_and_strengths_are_checked():
    own = torch.randn(5, 70)
    assert torch.equal(dub_motion(own, own.clone(), keypoint_weights(1.0, 1.0)), own)
    assert torch.equal(dub_motion(own, torch.randn(5, 70), keypoint_weights(0.0, 0.0)), own)
    with pytest.raises(ValueError, match=r"lip_strength must be a number in \[0, 1\]"):
        keypoint_weights(1.5)
    with pytest.raises(ValueError, match="expression_strength"):
        keypoint_weights(1.0, -0.1)
