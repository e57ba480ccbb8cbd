"""One video -> single-person training segments (the work of trainer/prepare_data.py for one clip).

    prep = Preparer(out, liveportrait, audio_encoder)
    record = prep.process(path, clip_id)   # {"segments": [manifest entries without labels], "dropped": [...]}

Streamed, one frame at a time (memory does not grow with the clip: per frame only its 70 motion values
are kept; crops go to disk as JPEG as they are made):
    FrameStream (25 fps, nearest frame) -> SceneCuts -> face detection (all faces) -> FaceTracker (one
    identity; cuts, several people, lost faces and jumps end a segment) -> crop of the tracked face ->
    frozen M in batches -> motion (70,) per frame             [+ crops/<clip>.jpg.bin, crops_store.py]
Then per kept segment (>= MIN_FRAMES frames): audio of the segment at 16 kHz -> frozen encoder (N,L,D)
fp16 and the energy per frame (dB; validation's lip metrics), motion (N,70) + canonical kp (21,3):
    motion/<segment>.safetensors  audio/<segment>.safetensors
Segment ids: the clip id when one segment is kept, else <clip id>__seg<k>. Every entry records the
face engine's motion-extractor hash, the audio encoder's name and hash, the source fps and the frame
range in the clip. Short segments and dropped frames are reported with their reasons.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from playmate_core.eval.motion_metrics import audio_energy_db
from playmate_core.motion.playmate.checkpoint import audio_encoder_fingerprint, tensors_sha256

from .crops_store import CropWriter
from .face_track import FaceTracker
from .scene_cut import SceneCuts
from .video_io import FrameStream, VideoError

log = logging.getLogger("playmate.trainer")

FPS = 25
MIN_FRAMES = 90
SAMPLE_RATE = 16000
PROGRESS_EVERY_S = 30.0


class Skip(Exception):
    """A clip that is left out; the message is the reason written to report.json."""


def save_atomic(tensors: dict, path: Path) -> None:
    from safetensors.torch import save_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


class Preparer:
    """Holds the frozen models and their fingerprints."""

    def __init__(self, out: Path, liveportrait: Path, audio_encoder: Path, backend: str = "mediapipe",
                 save_crops: bool = False, batch: int = 16, tiny: bool = False, device: str = "cpu",
                 min_frames: int = MIN_FRAMES):
        from playmate_core import FaceEngine, FaceEngineConfig, load_face_modules
        from playmate_core.audio import AudioEncoder
        from playmate_core.crop import FaceCropper
        cfg = FaceEngineConfig.tiny() if tiny else FaceEngineConfig.liveportrait()
        modules, _ = load_face_modules(liveportrait, cfg)
        self.face_hash = tensors_sha256(modules["motion_extractor"].state_dict())
        self.engine = FaceEngine(modules, cfg, device=device)
        self.encoder = AudioEncoder.from_pretrained(audio_encoder, device=self.engine.device)
        self.encoder_id = audio_encoder_fingerprint(audio_encoder)
        self.cropper = FaceCropper(backend=backend)
        self.out, self.save_crops, self.batch, self.min_frames = out, save_crops, batch, min_frames

    def close(self) -> None:
        self.cropper.close()

    def _motion(self, crops: list) -> torch.Tensor:
        from playmate_core.crop import to_tensor
        from playmate_core.motion.layout import motion_to_vector
        m = self.engine.extract_motion(to_tensor(crops))
        return torch.cat([motion_to_vector(m).cpu().float(), m["kp"].reshape(-1, 63).cpu().float()], 1)   # b,133

    def _track(self, stream: FrameStream, clip_id: str, crops_file: Path) -> tuple:
        """Pass over the frames -> (per-frame motion+kp rows (n,133) with NaN where no face, tracker)."""
        tracker, cuts, writer = FaceTracker(), SceneCuts(), CropWriter(crops_file) if self.save_crops else None
        rows, pending, pending_k = [], [], []
        t0 = last = time.perf_counter()
        try:
            for k, rgb in stream:
                face = tracker.update(k, self.cropper.backend.detect(rgb), cut=cuts.update(rgb))
                crop = self.cropper.crop_landmarks(rgb, face.landmarks, face.layout).input_256 if face else None
                if writer is not None:
                    writer.add(crop)
                rows.append(None)
                if crop is not None:
                    pending.append(crop)
                    pending_k.append(k)
                if len(pending) == self.batch:
                    self._flush(rows, pending, pending_k)
                if time.perf_counter() - last > PROGRESS_EVERY_S:
                    last = time.perf_counter()
                    log.info("%s: frame %d (%.1f s of video) after %.0f s", clip_id, k, k / FPS, last - t0)
            self._flush(rows, pending, pending_k)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if writer is not None:
            writer.close()
        empty = np.full(133, np.nan, np.float32)
        return np.stack([r if r is not None else empty for r in rows]) if rows else np.zeros((0, 133)), tracker

    def _flush(self, rows: list, pending: list, pending_k: list) -> None:
        if pending:
            for k, row in zip(pending_k, self._motion(pending).numpy()):
                rows[k] = row
            pending.clear()
            pending_k.clear()

    def _waveform(self, path: Path) -> torch.Tensor:
        from playmate_core.audio import load_audio_file
        try:
            wav, _ = load_audio_file(path)
        except ValueError as exc:
            raise Skip(f"no audio track ({exc})" if "no audio stream" in str(exc) else f"unreadable audio ({exc})")
        if wav.numel() == 0 or float(wav.abs().max()) < 1e-4:
            raise Skip("silent audio (peak below 1e-4)")
        return wav

    def _segment_audio(self, wav: torch.Tensor, start: int, stop: int) -> tuple:
        """Frames [start, stop) -> (features (n,L,D) fp16, energy (n,) dB) or raises Skip-like ValueError."""
        n = stop - start
        a, b = round(start * SAMPLE_RATE / FPS), round(stop * SAMPLE_RATE / FPS)
        piece = wav[a:b]
        if piece.numel() < (b - a) - SAMPLE_RATE // FPS:
            raise ValueError(f"audio ends at {wav.numel() / SAMPLE_RATE:.2f} s, before the segment's video")
        if float(piece.abs().max()) < 1e-4:
            raise ValueError("silent audio")
        feats = self.encoder.encode(piece, FPS)                                   # (~n,L,D)
        if abs(feats.shape[0] - n) > 1:
            raise ValueError(f"audio has {feats.shape[0]} frames at 25 fps, video {n}")
        feats = feats[:n] if feats.shape[0] >= n else torch.cat([feats, feats[-1:]])
        energy = audio_energy_db(piece.numpy(), n, FPS, SAMPLE_RATE).astype(np.float32)
        return feats.to(torch.float16).cpu(), torch.from_numpy(energy)

    def process(self, path: Path, clip_id: str) -> dict:
        try:
            stream = FrameStream(path, FPS)
        except VideoError as exc:
            raise Skip(f"corrupt or unreadable video ({exc})")
        if not stream.has_audio:
            raise Skip("no audio track")
        wav = self._waveform(path)
        crops_file = self.out / "crops" / f"{clip_id}.jpg.bin"
        try:
            rows, tracker = self._track(stream, clip_id, crops_file)
        except VideoError as exc:
            raise Skip(f"corrupt or unreadable video ({exc})")
        n = len(rows)
        if n < self.min_frames:
            raise Skip(f"too short: {n} frames at 25 fps ({stream.duration:.2f} s), need {self.min_frames}")
        segments, dropped = tracker.finish(n)
        entries = []
        kept = [s for s in segments if len(s) >= self.min_frames]
        dropped += [(s.start, s.stop, f"single-person segment shorter than {self.min_frames} frames")
                    for s in segments if len(s) < self.min_frames]
        for seg in kept:
            seg_id = clip_id if len(kept) == 1 else f"{clip_id}__seg{len(entries)}"
            try:
                feats, energy = self._segment_audio(wav, seg.start, seg.stop)
            except ValueError as exc:
                dropped.append((seg.start, seg.stop, f"segment audio: {exc}"))
                continue
            block = torch.from_numpy(rows[seg.start:seg.stop])                    # n,133
            save_atomic({"motion": block[:, :70].contiguous(), "kp": block[:, 70:].reshape(-1, 21, 3).mean(0)},
                        self.out / "motion" / f"{seg_id}.safetensors")
            save_atomic({"features": feats, "energy_db": energy}, self.out / "audio" / f"{seg_id}.safetensors")
            entry = {"clip_id": seg_id, "source": clip_id, "frames": len(seg), "fps": FPS,
                     "duration": round(len(seg) / FPS, 4), "source_fps": round(stream.source_fps, 4),
                     "start_frame": seg.start, "motion": f"motion/{seg_id}.safetensors",
                     "audio": f"audio/{seg_id}.safetensors", "face_motion_sha256": self.face_hash,
                     "audio_encoder": self.encoder_id}
            if self.save_crops:
                entry.update(crops=f"crops/{clip_id}.jpg.bin", crop_range=[seg.start, seg.stop])
            entries.append(entry)
        report = [{"start_s": round(a / FPS, 2), "stop_s": round(b / FPS, 2), "frames": b - a, "reason": why}
                  for a, b, why in sorted(dropped)]
        if not entries:
            raise Skip("no single-person segment of at least %d frames (%s)" % (
                self.min_frames, "; ".join(f"{r['start_s']}-{r['stop_s']} s: {r['reason']}" for r in report[:5])))
        return {"segments": entries, "dropped": report, "frames": n, "source_fps": round(stream.source_fps, 4)}
