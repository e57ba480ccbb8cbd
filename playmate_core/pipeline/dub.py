"""Video dubbing (issue 17): keep a person's video, replace what their mouth says.

    plan = analyse_video(cropper, video)                       pass 1: who and where, per frame (dub_plan.py)
    N    = frame_count(audio samples, fps, sample rate)        THE frame count; fps = the source's by default
    k_j  = source_frame_indices(M, fps_src, N, fps, policy)    which source frame output frame j shows
    g_j  = the generated motion resampled to N frames at fps   (any backend's MotionSequence)
    for j in 0..N-1 (pass 2, streamed: decode -> extract -> render -> encode):
        frame = source frame k_j
        no kept face in it   -> frame, unchanged (bit-identical; even-trimmed like every output frame)
        else, with the smoothed crop M_o2c,k of that frame (dub_crop.py):
            I_k = crop(frame) 256               f_s = F(I_k)         o_k = M(I_k)  (kp_k, exp, pose)
            x_s = T(kp_k, o_k)                  x_d = S(x_s, T(kp_k, dub_motion(o_k, g_j)))   (dub_motion.py)
            out = paste_back(G(W(f_s, x_s, x_d)), M_c2o,k, frame)   the feathered mask of that crop
T is Eq. 2 (x = s(x_c R + exp) + t), S the stitching network. Each frame is rendered from its OWN appearance
and keypoints, as LivePortrait's video-to-video mode does; with g_j = o_k the output is its reconstruction.

Memory: the plan and the motion hold a few numbers per frame; frames are decoded, rendered and encoded one
at a time (backward reads for ping-pong keep at most dub_reader.CACHE_BYTES of frames).
"""
from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..crop.cropper import FaceCropper, to_tensor
from ..crop.paste_back import mask_to_original, paste_back
from ..face.engine import FaceEngine
from ..motion.layout import MOTION_DIM, motion_to_vector, vector_to_motion
from ..motion.sequence import MotionSequence, frame_count, resample_frames
from .dub_crop import SMOOTH_SECONDS, crop_matrices_from_box, warp_crop
from .dub_motion import dub_motion, keypoint_weights
from .dub_plan import DubPlan, analyse_video, first_face_frame
from .dub_reader import FrameReader, block_for
from .dub_timing import DUB_POLICIES, output_frame_count, resolve_output_fps, source_frame_indices
from .render import to_uint8_crop
from .source import RENDER_SIZE, PortraitSource, prepare_source
from .video_file import prepare_audio, write_video

log = logging.getLogger("playmate")


@dataclass(frozen=True)
class DubOptions:
    """policy: length policy (dub_timing.py). lip_strength / expression_strength in [0, 1] (dub_motion.py).
    fps: output frame rate, None = the source video's. stitching: LivePortrait's stitching network on x_d.
    smooth_seconds: sigma of the crop smoothing (dub_crop.py). The face index is the cropper's."""
    policy: str = "pingpong"
    lip_strength: float = 1.0
    expression_strength: float = 0.0
    fps: float | None = None
    stitching: bool = True
    smooth_seconds: float = SMOOTH_SECONDS

    def __post_init__(self):
        if self.policy not in DUB_POLICIES:
            raise ValueError(f"policy must be one of {DUB_POLICIES}, got {self.policy!r}")
        keypoint_weights(self.lip_strength, self.expression_strength)          # validates both strengths
        if not isinstance(self.smooth_seconds, numbers.Real) or not 0 <= self.smooth_seconds <= 2:
            raise ValueError(f"smooth_seconds must be in [0, 2] seconds, got {self.smooth_seconds!r}")


def _check(engine, cropper, motion) -> None:
    if not isinstance(engine, FaceEngine):
        raise ValueError(f"engine must be a FaceEngine (load_face_engine), got {type(engine).__name__}")
    if not isinstance(cropper, FaceCropper) or cropper.dsize != RENDER_SIZE:
        got = f"dsize {cropper.dsize}" if isinstance(cropper, FaceCropper) else type(cropper).__name__
        raise ValueError(f"cropper must be a FaceCropper(dsize={RENDER_SIZE}) (the renderer's output size), got {got}")
    if not isinstance(motion, MotionSequence):
        raise ValueError(f"motion must be a MotionSequence (Audio To Motion / a motion backend's generate), "
                         f"got {type(motion).__name__}")


def generated_rows(motion: MotionSequence, num_samples: int, sample_rate: int, fps, n: int) -> torch.Tensor:
    """(n,70) float32: the generated motion on the output's time base. The motion must cover the same audio
    (its length at its own fps within one frame of frame_count(audio)); it is resampled linearly in time."""
    values = torch.as_tensor(motion.values).float().cpu()
    if values.ndim != 2 or values.shape[1] != MOTION_DIM or not torch.isfinite(values).all():
        raise ValueError(f"motion.values must be finite (frames, {MOTION_DIM}), got {tuple(values.shape)}; "
                         f"regenerate the motion")
    expected = frame_count(num_samples, motion.fps, sample_rate)
    if abs(values.shape[0] - expected) > 1:
        fps_m = float(motion.fps)
        raise ValueError(f"the motion has {values.shape[0]} frames at {fps_m:g} fps ({values.shape[0] / fps_m:.2f} s) "
                         f"but the audio is {num_samples / sample_rate:.2f} s ({expected} frames); generate the "
                         f"motion from the same audio that is dubbed")
    if not motion.trained:
        log.warning("dubbing with motion from an UNTRAINED model: the new lips are noise, not speech")
    return resample_frames(values, float(motion.fps), float(fps), n)                       # n,70


class _FrameRenderer:
    """Renders one kept source frame with a generated motion row; remembers the last frame's F/M outputs
    (a held or repeated source frame is extracted once) and the last paste-back mask (a held crop)."""

    def __init__(self, engine: FaceEngine, plan: DubPlan, weights: torch.Tensor, stitching: bool, rotate: bool):
        self.engine, self.plan, self.weights, self.stitching, self.rotate = engine, plan, weights, stitching, rotate
        self._feat_key, self._feat = None, None
        self._mask_key, self._mask = None, None

    def _features(self, k: int, rgb: np.ndarray, m_o2c: np.ndarray):
        if self._feat_key != k:
            _, small = warp_crop(rgb, m_o2c, RENDER_SIZE)                            # 256,256,3
            img = to_tensor(small)                                                   # 1,3,256,256
            f_s = self.engine.extract_appearance(img)                                # 1,C,16,64,64
            own = {key: v.detach().float().cpu() for key, v in self.engine.extract_motion(img).items()}
            self._feat_key, self._feat = k, (f_s, own, self.engine.transform_keypoints(own))
        return self._feat

    def _paste_mask(self, m_c2o: np.ndarray) -> np.ndarray:
        key = m_c2o.tobytes()
        if self._mask_key != key:
            self._mask_key, self._mask = key, mask_to_original(m_c2o, self.plan.size, dsize=RENDER_SIZE)  # H,W,1
        return self._mask

    def __call__(self, k: int, rgb: np.ndarray, g_row: torch.Tensor) -> np.ndarray:
        m_o2c, m_c2o = crop_matrices_from_box(self.plan.boxes[k], RENDER_SIZE, self.rotate)
        f_s, own, x_s = self._features(k, rgb, m_o2c)
        new = dub_motion(motion_to_vector(own), g_row[None], self.weights)              # 1,70
        x_d = self.engine.transform_keypoints(vector_to_motion(new, own["kp"]))        # 1,21,3
        if self.stitching:
            x_d = self.engine.stitch(x_s, x_d)
        out = self.engine.warp_decode(f_s, x_s, x_d)                                   # 1,3,512,512
        return paste_back(to_uint8_crop(out), m_c2o, rgb, mask_ori=self._paste_mask(m_c2o))


def dub_frames(engine: FaceEngine, cropper: FaceCropper, video, motion: MotionSequence, num_samples: int,
               sample_rate: int, options: DubOptions = DubOptions(), plan: DubPlan | None = None,
               callback: Callable[[int, int], None] | None = None) -> tuple[Iterator[np.ndarray], dict]:
    """-> (generator of the N output frames (H',W',3) uint8 (even sides), info). Inputs are validated now.

    video: a path or a seekable binary file. num_samples, sample_rate: the dubbed audio's length. plan: from
    analyse_video (done here when None; its callback(k, ~M) runs then). callback(j + 1, N) after each frame.
    info: fps (Fraction), frames N, source_frames M, source_fps, rendered / passed_through counts (filled
    as frames are produced), indices (N,) source frame per output frame.
    """
    _check(engine, cropper, motion)
    if not isinstance(options, DubOptions):
        raise ValueError(f"options must be DubOptions, got {type(options).__name__}")
    plan = plan if plan is not None else analyse_video(cropper, video, options.smooth_seconds, callback)
    fps = resolve_output_fps(options.fps, plan.fps)
    n = output_frame_count(num_samples, sample_rate, fps)
    indices = source_frame_indices(plan.frames, plan.fps, n, fps, options.policy)            # N
    rows = generated_rows(motion, num_samples, sample_rate, fps, n)                          # N,70
    info = {"fps": fps, "frames": n, "source_frames": plan.frames, "source_fps": plan.fps, "indices": indices,
            "rendered": 0, "passed_through": 0, "policy": options.policy}
    render = _FrameRenderer(engine, plan, keypoint_weights(options.lip_strength, options.expression_strength),
                            options.stitching, cropper.rotate)
    return _frames(video, plan, indices, rows, render, info, callback), info


def _frames(video, plan, indices, rows, render, info, callback) -> Iterator[np.ndarray]:
    h, w = plan.size[0] - plan.size[0] % 2, plan.size[1] - plan.size[1] % 2
    kept = plan.kept
    with FrameReader(video, plan.pts, block=block_for(*plan.size)) as reader:
        for j, k in enumerate(indices.tolist()):
            rgb = reader.get(k)
            if kept[k]:
                frame = render(k, rgb, rows[j])
                info["rendered"] += 1
            else:
                frame = rgb[:h, :w]                                 # passes through unchanged
                info["passed_through"] += 1
            if callback is not None:
                callback(j + 1, len(indices))
            yield frame


def dub_video(path: str | Path, engine: FaceEngine, cropper: FaceCropper, video, motion: MotionSequence, audio,
              options: DubOptions = DubOptions(), crf: int = 19,
              callback: Callable[[int, int], None] | None = None, *, interrupt: Callable[[], None] | None = None,
              staging_dir: str | Path | None = None) -> dict:
    """Dub `video` with `motion` and write an H.264 + AAC mp4 at `path` with the WHOLE `audio` muxed in.

    audio: (waveform (C,S) or (S,) float, sample_rate). Returns write_video's dict (frames, width, height,
    fps, duration_s, audio_samples) plus the dub's info (source_frames, source_fps, rendered,
    passed_through, policy). The file appears only when complete: a cancel (callback or interrupt raising)
    or an error leaves nothing behind; interrupt and staging_dir go to write_video.
    """
    waveform, sample_rate = prepare_audio(*audio)
    frames, info = dub_frames(engine, cropper, video, motion, waveform.shape[1], sample_rate, options,
                              callback=callback)
    try:
        written = write_video(path, frames, info["fps"], audio=(waveform, sample_rate), crf=crf, interrupt=interrupt,
                              staging_dir=staging_dir)
    finally:
        frames.close()
    if written["frames"] != info["frames"]:
        raise RuntimeError(f"wrote {written['frames']} frames, expected {info['frames']}")
    log.info("dubbed %d frames (%d rendered, %d without the face passed through) from %d source frames, %s",
             info["frames"], info["rendered"], info["passed_through"], info["source_frames"], options.policy)
    return {**written, **{k: v for k, v in info.items() if k not in ("indices", "fps", "frames")}}


def video_face_source(engine: FaceEngine, cropper: FaceCropper, video, name: str = "the video") -> PortraitSource:
    """The source portrait for Audio To Motion: the first frame where the dub will follow a face (same
    face_index rule as the tracker), prepared like a still portrait (prepare_source)."""
    k, rgb = first_face_frame(cropper, video, name=name)
    return prepare_source(engine, cropper, rgb, name=f"{name} (frame {k})")


__all__ = ["DubOptions", "dub_frames", "dub_video", "video_face_source", "generated_rows"]
