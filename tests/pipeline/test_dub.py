"""Video dubbing end to end in the core (pipeline/dub.py) on a REAL talking-face video (../shared/real-media,
see dub_helpers) with the real MediaPipe detector and a tiny random face engine:

* a no-op dub (each frame's own motion as the "generated" one) renders LivePortrait's video-to-video
  reconstruction of every frame (its own F, M, Eq. 2, stitching, W, G, paste-back), and changes the frame only
  inside the paste-back mask;
* frames without the face pass through bit-identical, and the generated lips resume when the face returns;
* the written mp4 has exactly ceil(audio x fps) frames and the whole audio, at 25 and 29.97 fps, for a clip
  shorter than the audio; every policy gives that count;
* face_index picks the person and the same person is followed when the face sizes swap;
* a cancel leaves no file; the Video Face Source is the first frame with the face.
"""
import io
from fractions import Fraction

import numpy as np
import pytest
import torch

from dub_helpers import decode, scene, tone, two_people, write_clip
from playmate_core import FaceEngine
from playmate_core.crop import FaceCropper, paste_back, to_tensor
from playmate_core.crop.paste_back import mask_to_original
from playmate_core.motion import MotionSequence, motion_to_vector
from playmate_core.pipeline.dub import DubOptions, dub_frames, dub_video, video_face_source
from playmate_core.pipeline.dub_crop import crop_matrices_from_box, warp_crop
from playmate_core.pipeline.dub_plan import analyse_video
from playmate_core.pipeline.dub_timing import DUB_POLICIES
from playmate_core.pipeline.pose_edit import LIP_KEYPOINTS
from playmate_core.timebase import frame_count

SR = 16000
NTSC = Fraction(30000, 1001)
PATTERN = "FF..FF"                          # the person leaves for two frames


@pytest.fixture(scope="module")
def engine(tiny_modules, tiny_cfg):
    return FaceEngine(tiny_modules, tiny_cfg)


@pytest.fixture(scope="module")
def cropper():
    return FaceCropper()                    # the real MediaPipe detector


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("dub")
    frames = scene(PATTERN)
    return {25: write_clip(d / "talk25.mp4", frames, 25), NTSC: write_clip(d / "talk2997.mp4", frames, NTSC)}


@pytest.fixture(scope="module")
def plan(cropper, clips):
    return analyse_video(cropper, clips[25])


def own_motion(engine, plan, frames) -> torch.Tensor:
    """(M,70) each kept frame's own motion, from its dub crop (zeros where no face: those frames pass through)."""
    rows = torch.zeros(len(frames), 70)
    for k, rgb in enumerate(frames):
        if plan.kept[k]:
            m_o2c, _ = crop_matrices_from_box(plan.boxes[k])
            rows[k] = motion_to_vector(engine.extract_motion(to_tensor(warp_crop(rgb, m_o2c)[1])))[0]
    return rows


def reference_reconstruction(engine, plan, k, rgb) -> np.ndarray:
    """LivePortrait's video-to-video mode, driving = the same video, absolute motion, no smoothing, written out:
    f_s = F(I_k); x_s = s_k (x_c,k R_k + exp_k) + t_k; x_d = x_s + S(x_s, x_s); G(W(f_s, x_s, x_d)) pasted back."""
    m_o2c, m_c2o = crop_matrices_from_box(plan.boxes[k])
    img = to_tensor(warp_crop(rgb, m_o2c)[1])
    f_s, m = engine.extract_appearance(img), engine.extract_motion(img)
    x_s = engine.transform_keypoints(m)
    out = engine.warp_decode(f_s, x_s, engine.stitch(x_s, x_s))
    crop = (out[0].permute(1, 2, 0).clamp(0, 1) * 255).to(torch.uint8).numpy()
    return paste_back(crop, m_c2o, rgb)


@pytest.fixture(scope="module")
def noop(engine, cropper, clips, plan):
    frames = decode(clips[25])
    motion = MotionSequence(values=own_motion(engine, plan, frames), kp=torch.zeros(1, 21, 3), fps=25.0, trained=True,
                            origin="driving")
    samples = len(frames) * SR // 25                                 # exactly the clip's length
    out, info = dub_frames(engine, cropper, clips[25], motion, samples, SR, DubOptions(policy="trim"), plan=plan)
    return frames, list(out), info


def test_no_op_dub_is_the_reference_reconstruction_and_changes_only_the_mask(engine, plan, noop):
    frames, out, info = noop
    assert info["frames"] == len(frames) and info["indices"].tolist() == list(range(len(frames)))
    for k, rgb in enumerate(frames):
        if not plan.kept[k]:
            continue
        ref = reference_reconstruction(engine, plan, k, rgb)
        assert np.abs(out[k].astype(int) - ref.astype(int)).max() <= 1, k           # rendering tolerance
        mask = mask_to_original(crop_matrices_from_box(plan.boxes[k])[1], plan.size)[: out[k].shape[0], :, 0]
        changed = (out[k] != rgb[: out[k].shape[0], : out[k].shape[1]]).any(-1)
        assert changed.any() and not changed[mask == 0].any(), k                      # only inside the mask
        assert (mask == 0).mean() > 0.2                                               # and there is an outside


def test_frames_without_the_face_pass_through_bit_identical(noop):
    frames, out, info = noop
    for k, c in enumerate(PATTERN):
        if c == ".":
            assert np.array_equal(out[k], frames[k]), k
    assert info["passed_through"] == PATTERN.count(".") and info["rendered"] == PATTERN.count("F")


@pytest.fixture(scope="module")
def lips_open(engine, plan, clips):
    """A 'generated' motion for 0.47 s at 29.97 fps: the first frame's own motion with the lips moving a lot."""
    own = own_motion(engine, plan, decode(clips[25]))[0]
    n = frame_count(int(0.47 * SR), NTSC, SR)
    values = own[None].repeat(n, 1)
    exp = values[:, :63].reshape(n, 21, 3)
    exp[:, list(LIP_KEYPOINTS), 1] += 0.04 * torch.sin(torch.arange(n) * 1.3)[:, None] + 0.03
    return MotionSequence(values=values, kp=torch.zeros(1, 21, 3), fps=float(NTSC), trained=True)


def test_pingpong_file_at_2997_has_the_audio_frame_count_and_the_whole_audio(engine, cropper, clips, lips_open,
                                                                            tmp_path):
    import av
    wave = tone(0.47)
    path = tmp_path / "dub.mp4"
    calls = []
    info = dub_video(path, engine, cropper, clips[NTSC], lips_open, (wave, SR), DubOptions(policy="pingpong"),
                     callback=lambda done, total: calls.append((done, total)))
    n = frame_count(wave.shape[1], NTSC, SR)
    assert calls == [(k + 1, 6) for k in range(6)] + [(j + 1, n) for j in range(n)]    # pass 1, then every frame
    assert info["frames"] == n == 15 and info["source_frames"] == len(PATTERN)   # a clip shorter than the audio
    # ping-pong over 6 frames: 0 1 2 3 4 5 4 3 2 1 0 1 2 3 4; frames 2 and 3 have no face
    assert info["passed_through"] == 6 and info["rendered"] == n - 6
    with av.open(str(path)) as c:
        assert c.streams.video[0].average_rate == NTSC
        assert sum(1 for _ in c.decode(video=0)) == n
    with av.open(str(path)) as c:
        got = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    assert abs(len(got) - wave.shape[1]) <= 1024                                  # one AAC frame of padding
    n_common = min(len(got), wave.shape[1])                                       # the decoder drops AAC priming
    assert np.corrcoef(got[:n_common], wave[0, :n_common])[0, 1] > 0.99           # the same sound, all of it


def test_generated_lips_resume_after_the_gap(engine, cropper, clips, plan, lips_open, noop):
    frames, noop_out, _ = noop
    motion = MotionSequence(values=lips_open.values[: len(frames)], kp=lips_open.kp, fps=25.0, trained=True)
    out, info = dub_frames(engine, cropper, clips[25], motion, len(frames) * SR // 25, SR, DubOptions(policy="trim"),
                           plan=plan)
    out = list(out)
    for k in (4, 5):                                          # after the person came back
        assert not np.array_equal(out[k], noop_out[k]), k     # the generated lips, not the frame's own
    for k in (2, 3):
        assert np.array_equal(out[k], frames[k])


@pytest.mark.parametrize("src", [25, NTSC], ids=["25fps", "29.97fps"])
def test_every_policy_gives_the_audio_frame_count(engine, cropper, clips, lips_open, src):
    plan = analyse_video(cropper, clips[src])
    assert plan.fps == src and plan.frames == len(PATTERN)
    for out_fps in (None, 25, NTSC):
        for policy in DUB_POLICIES:
            samples = int(0.47 * SR)
            n = frame_count(samples, out_fps or src, SR)
            if policy == "trim":                              # the clip (0.2 s) is shorter than the audio
                with pytest.raises(ValueError, match="shorter than the audio"):
                    dub_frames(engine, cropper, clips[src], lips_open, samples, SR, DubOptions(policy, fps=out_fps),
                               plan=plan)
                continue
            gen, info = dub_frames(engine, cropper, clips[src], lips_open, samples, SR,
                                   DubOptions(policy, fps=out_fps), plan=plan)
            gen.close()
            assert info["frames"] == n == len(info["indices"]), (policy, out_fps)
            assert info["fps"] == (out_fps or src)


def test_face_index_chooses_the_person_and_follows_them(engine, cropper, tmp_path):
    frames = two_people(8)
    path = write_clip(tmp_path / "two.mp4", frames)
    for face_index, side in ((0, "left"), (1, "right")):
        plan = analyse_video(cropper.with_options(face_index=face_index), path)
        assert plan.kept.all() and plan.faces_seen == 2
        centres = plan.boxes[:, 0]
        assert (centres < 200).all() if side == "left" else (centres > 260).all(), (face_index, centres)
    plan = analyse_video(cropper.with_options(face_index=1), path)
    motion = MotionSequence(values=torch.zeros(2, 70), kp=torch.zeros(1, 21, 3), fps=25.0, trained=True)
    gen, _ = dub_frames(engine, cropper.with_options(face_index=1), path, motion, 2 * SR // 25, SR, plan=plan)
    first = next(gen)
    gen.close()
    changed = (first != decode(path)[0]).any(-1)
    assert changed[:, 260:].any() and not changed[:, :150].any()          # the right person only
    with pytest.raises(ValueError, match="face_index 2 was asked for but at most 2 face"):
        analyse_video(cropper.with_options(face_index=2), path)


def test_cancel_leaves_no_file_and_the_source_is_the_first_face_frame(engine, cropper, tmp_path):
    frames = scene("..FF", start=10)
    data = io.BytesIO(write_clip(tmp_path / "late.mp4", frames).read_bytes())      # an in-memory VIDEO source
    source = video_face_source(engine, cropper, data)
    assert np.array_equal(source.image, decode(tmp_path / "late.mp4")[2])
    motion = MotionSequence(values=source.vector()[None].repeat(4, 1), kp=source.kp, fps=25.0, trained=True)

    def cancel(done, total):
        if total == 4 and done == 3:
            raise KeyboardInterrupt("cancelled")
    out = tmp_path / "out" / "dub.mp4"
    with pytest.raises(KeyboardInterrupt):
        dub_video(out, engine, cropper, data, motion, (tone(4 / 25), SR), callback=cancel)
    assert not out.exists() and not list(out.parent.glob("*"))
    with pytest.raises(ValueError, match="no face found in any of the 4 frames"):
        video_face_source(engine, cropper, io.BytesIO(write_clip(tmp_path / "none.mp4", scene("....")).read_bytes()))


def test_motion_for_other_audio_is_refused(engine, cropper, clips, plan, lips_open):
    with pytest.raises(ValueError, match="generate the motion from the same audio"):
        dub_frames(engine, cropper, clips[25], lips_open, 3 * SR, SR, plan=plan)
