"""Rendered validation video (stages 1 and 2, with --face-weights): generated motion on a held-out face.

Every val.video_every evaluations (steps that are multiples of val.every x val.video_every, and the last
step) rank 0 writes out/val/step_<step>.mp4: the first val.video_seconds of the first held-out clip,
    motion   generated from the clip's audio features as the other validation metrics (val.steps steps,
             eta 1, w_a 1.5, seed 0; stage 2: the clip's label), from the reference face's own motion
    frames   playmate_core.pipeline.render_frames with the LivePortrait face engine of --face-weights (the
             512 crop, no paste-back) resized to val.video_size x val.video_size, 25 fps
    sound    the segment's audio from the source video when it can still be read, else none
Reference face: the clip's first frame, the frame whose motion the dataset holds (and the dataset was
prepared with these face weights: the stage checks it). Taken from the saved crops (prepare_data
--save-crops), else decoded from the source video (meta/<video>.json "path") and cropped by
playmate_core.crop.FaceCropper as the Render nodes crop a portrait; neither -> no video (one warning).
It is prepared once and kept. Cost per video: one generation of val.video_seconds, then
25 x val.video_seconds frames through W and G (perf/val_video_s).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from .data import read_manifest
from .validation import FPS, clip_audio, clip_label

log = logging.getLogger("playmate.trainer")
SAMPLE_RATE = 16000


def crop_source(engine, crop_256: np.ndarray):
    """PortraitSource of an already aligned 256x256 RGB crop (prepare_data's crops are LivePortrait's network
    input): F and M run on it as prepare_source runs them on its crop; no detection. Render it with
    paste_back=False (its "original image" is the crop itself)."""
    from playmate_core.crop import CropInfo, to_tensor
    from playmate_core.pipeline import RENDER_SIZE, PortraitSource
    inp = to_tensor(crop_256)                                                       # 1,3,256,256
    f_s = engine.extract_appearance(inp).cpu()                                      # 1,C,16,64,64
    motion = {k: v.detach().float().cpu() for k, v in engine.extract_motion(inp).items()}
    x_s = engine.transform_keypoints(motion)                                        # 1,21,3
    side = crop_256.shape[0]
    o2c = np.diag([RENDER_SIZE / side, RENDER_SIZE / side, 1.0]).astype(np.float32)   # crop px -> 512 px
    info = CropInfo(crop_512=cv2.resize(crop_256, (RENDER_SIZE, RENDER_SIZE), interpolation=cv2.INTER_CUBIC),
                    input_256=crop_256, M_o2c=o2c, M_c2o=np.linalg.inv(o2c).astype(np.float32),
                    landmarks=np.zeros((0, 2), np.float32), landmarks_crop=np.zeros((0, 2), np.float32),
                    source_size=(side, side), layout="prepared crop")
    return PortraitSource(image=crop_256, crop=info, f_s=f_s, motion=motion, x_s=x_s,
                          mask=np.ones((side, side), np.float32))


def _video_frame(path: Path, index: int) -> np.ndarray:
    """Frame `index` at 25 fps of a video, as prepare_data numbered them (streamed up to it)."""
    from .video_io import FrameStream
    for k, rgb in FrameStream(path, FPS):
        if k == index:
            return rgb
    raise ValueError(f"'{path}' has no frame {index} at {FPS} fps (the video changed since prepare_data?)")


class ValidationVideo:
    """probe(model, step, out) -> {"perf/val_video_s": s} on the steps it renders, else {}."""

    def __init__(self, clip, root: str | Path, cfg, device: torch.device):
        from playmate_core.face.engine import load_face_engine
        self.clip, self.root, self.cfg = clip, Path(root), cfg
        try:
            self.engine = load_face_engine(cfg.face_weights, device=device)
        except (ValueError, OSError) as exc:
            raise ValueError(f"the validation video renders with the face engine of --face-weights "
                             f"'{cfg.face_weights}', which does not load: {exc}. Fix the folder (its "
                             f"playmate_face_config.json names a non-public architecture), or set "
                             f"val.video_every=0 to train without the video") from exc
        self.period = cfg.val.every * cfg.val.video_every
        self._reference = None                         # (PortraitSource | None, audio | None), found once
        log.info("validation video: clip %r (identity %s), %.1f s at %d px every %d steps, face weights '%s'",
                 clip.clip_id, clip.identity, cfg.val.video_seconds, cfg.val.video_size, self.period,
                 cfg.face_weights)

    def _row(self) -> dict:
        for row in read_manifest(self.root):
            if str(row["clip_id"]) == self.clip.clip_id:
                return row
        raise ValueError(f"clip {self.clip.clip_id!r} is no longer in '{self.root / 'manifest.jsonl'}'")

    def _source_video(self, row: dict) -> Path | None:
        meta = self.root / "meta" / f"{row.get('source', row['clip_id'])}.json"
        path = json.loads(meta.read_text()).get("path") if meta.is_file() else None
        return Path(path) if path and Path(path).is_file() else None

    def _face(self, row: dict, video: Path | None):
        from .crops_store import CropReader
        start = int(row.get("start_frame", 0))
        if row.get("crops") and (self.root / row["crops"]).is_file():
            reader = CropReader(self.root / row["crops"])
            first = int(row.get("crop_range", [start])[0])
            if reader.has(first):
                return crop_source(self.engine, reader[first])
        if video is None:
            return None
        from playmate_core.crop import FaceCropper
        from playmate_core.pipeline import prepare_source
        cropper = FaceCropper()
        try:
            return prepare_source(self.engine, cropper, _video_frame(video, start), name=f"frame {start} of '{video}'")
        finally:
            cropper.close()

    def _audio(self, row: dict, video: Path | None, n: int) -> tuple | None:
        if video is None:
            return None
        from playmate_core.audio import load_audio_file
        try:
            wav, _ = load_audio_file(video, SAMPLE_RATE)
        except (ValueError, OSError) as exc:
            log.info("validation video without sound: %s", exc)
            return None
        start = int(row.get("start_frame", 0))
        piece = wav[round(start * SAMPLE_RATE / FPS): round((start + n) * SAMPLE_RATE / FPS)]
        return (piece.numpy(), SAMPLE_RATE) if piece.numel() else None

    def reference(self, n: int) -> tuple:
        """(PortraitSource or None, (waveform, rate) or None), prepared at the first call and kept."""
        if self._reference is None:
            try:
                row = self._row()
                video = self._source_video(row)
                self._reference = (self._face(row, video), self._audio(row, video, n))
                if self._reference[0] is None:
                    log.warning("validation video off: clip %r has no saved crop and its source video cannot be "
                                "read; prepare the data with --save-crops (or keep the videos where prepare_data "
                                "read them)", self.clip.clip_id)
            except (ValueError, OSError) as exc:                  # a video is a nicety: never stop training
                log.warning("validation video off: no reference face for clip %r (%s)", self.clip.clip_id, exc)
                self._reference = (None, None)
        return self._reference

    def __call__(self, model, step: int, out: Path) -> dict:
        if step % self.period and step != self.cfg.steps:
            return {}
        from playmate_core.motion import generate_motion
        from playmate_core.pipeline import render_frames, write_video
        t0, size = time.perf_counter(), self.cfg.val.video_size
        n = min(self.clip.frames, max(1, round(self.cfg.val.video_seconds * FPS)))
        source, audio = self.reference(n)
        if source is None:
            return {}
        feats, _ = clip_audio(self.clip, n)
        seq = generate_motion(model, features=feats, source_motion=source.motion, emotion=clip_label(model, self.clip),
                              steps=self.cfg.val.steps, eta=1.0, seed=0, w_a=1.5)
        batch = 8 if self.engine.device.type == "cuda" else 1
        frames = (cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)
                  for f in render_frames(self.engine, source, seq, paste_back=False, batch=batch))
        path = Path(out) / "val" / f"step_{step:07d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        info = write_video(path, frames, FPS, audio=audio, crf=23)
        seconds = time.perf_counter() - t0
        log.info("validation video '%s': %d frames %dx%d%s in %.1f s", path, info["frames"], info["width"],
                 info["height"], " with sound" if audio is not None else " (no sound)", seconds)
        return {"perf/val_video_s": seconds}
