"""Prepare talking-face clips for Playmate training (issue 5, item 1).

    python -m trainer.prepare_data --videos DIR --out DIR --liveportrait DIR --audio-encoder DIR \
        [--labels labels.csv] [--shard i --num-shards n] [--backend mediapipe] [--save-crops]
    python -m trainer.prepare_data --out DIR --merge        # after all shards finished

Per clip (clip id = path relative to --videos without extension, "/" -> "__", or the CSV's clip_id):
    decode -> 25 fps (nearest frame to each tick, trainer/video_io.py) -> FaceCropper 256 crops
    (missing faces held from the previous detection; too many missing -> skipped)
    -> frozen M in batches -> motion (N,70) + canonical kp (21,3)      motion/<id>.safetensors
    -> audio 16 kHz -> frozen AudioEncoder.encode(wav, 25) (N,L,D) fp16  audio/<id>.safetensors
    -> optional crops (N,256,256,3) uint8                               crops/<id>.safetensors
    -> sidecar meta/<id>.json: {"entry": manifest row} or {"skipped": reason, "path": ...}
Merge (automatic for one shard): meta/*.json -> manifest.jsonl (sorted by clip_id) + report.json.
Resumable: a clip with a sidecar (and, if kept, valid output files) is not processed again.
Shards: clip -> shard by sha1(clip_id) % num_shards, so every shard writes disjoint files.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import sys
from pathlib import Path

import torch

from .labels_csv import label_fields, read_labels
from .video_io import VideoError, decode_video, find_videos

log = logging.getLogger("playmate.trainer")

FPS = 25
MIN_FRAMES = 90
SAMPLE_RATE = 16000


def clip_id_for(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("").as_posix()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace("/", "__"))


def shard_of(clip_id: str, num_shards: int) -> int:
    return int(hashlib.sha1(clip_id.encode()).hexdigest(), 16) % num_shards


def valid_file(path: Path, keys: tuple) -> bool:
    if not path.is_file():
        return False
    try:
        from safetensors import safe_open
        with safe_open(str(path), "pt") as fh:
            return all(k in fh.keys() for k in keys)
    except Exception:                                  # noqa: BLE001 - any unreadable file is redone
        return False


def save_atomic(tensors: dict, path: Path) -> None:
    from safetensors.torch import save_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def write_json_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


class Preparer:
    """Holds the frozen models; `process(path, clip_id, labels)` -> manifest entry or raises Skip."""

    def __init__(self, out: Path, liveportrait: Path, audio_encoder: Path, backend: str = "mediapipe",
                 save_crops: bool = False, max_missing: float = 0.2, batch: int = 16, tiny: bool = False,
                 device: str = "cpu"):
        from playmate_core import FaceEngine, FaceEngineConfig, load_face_modules
        from playmate_core.audio import AudioEncoder
        from playmate_core.crop import FaceCropper
        cfg = FaceEngineConfig.tiny() if tiny else FaceEngineConfig.liveportrait()
        modules, _ = load_face_modules(liveportrait, cfg)
        self.engine = FaceEngine(modules, cfg, device=device)
        self.encoder = AudioEncoder.from_pretrained(audio_encoder, device=self.engine.device)
        self.cropper = FaceCropper(backend=backend)
        self.out, self.save_crops = out, save_crops
        self.max_missing, self.batch = max_missing, batch

    def crops(self, frames, clip_id: str):
        """(N,H,W,3) -> (N,256,256,3) uint8; missing faces hold the nearest detection (crop_video "hold")."""
        import numpy as np
        try:
            found, hits = self.cropper.crop_video(frames, on_missing="skip", name=clip_id)
        except ValueError:
            raise Skip("no face found in any frame") from None
        missing = 1.0 - len(hits) / len(frames)
        if missing > self.max_missing:
            raise Skip(f"no face in {missing:.0%} of frames (limit {self.max_missing:.0%}, --max-missing)")
        by_index = dict(zip(hits, found))
        donor, out = found[0], []
        for i, frame in enumerate(frames):   # same fill as crop_video(on_missing="hold"), with a count
            info = by_index.get(i)
            if info is None:
                info = self.cropper.crop_landmarks(frame, donor.landmarks, donor.layout)
            donor = by_index.get(i, donor)
            out.append(info.input_256)
        return np.stack(out)                                         # (N,256,256,3)

    def motion(self, crops) -> tuple[torch.Tensor, torch.Tensor]:
        from playmate_core.crop import to_tensor
        from playmate_core.motion.layout import motion_to_vector
        vecs, kps = [], []
        for i in range(0, len(crops), self.batch):
            m = self.engine.extract_motion(to_tensor(list(crops[i:i + self.batch])))
            vecs.append(motion_to_vector(m).cpu())                   # (b,70)
            kps.append(m["kp"].reshape(-1, 21, 3).cpu())
        return torch.cat(vecs).float(), torch.cat(kps).mean(0).float()   # (N,70), (21,3)

    def audio(self, path: Path, n: int, duration: float, clip_id: str, audio_file: Path) -> None:
        if valid_file(audio_file, ("features",)):
            from safetensors import safe_open
            with safe_open(str(audio_file), "pt") as fh:
                if fh.get_slice("features").get_shape()[0] == n:
                    log.info("%s: audio features cached", clip_id)
                    return
        from playmate_core.audio import load_audio_file
        try:
            wav, _ = load_audio_file(path)
        except ValueError as exc:
            raise Skip(f"no audio track ({exc})" if "no audio stream" in str(exc) else f"unreadable audio ({exc})")
        if wav.numel() == 0 or float(wav.abs().max()) < 1e-4:
            raise Skip("silent audio (peak below 1e-4)")
        limit = round(duration * SAMPLE_RATE)                       # audio past the video's end is dropped
        if wav.numel() > limit:
            if wav.numel() - limit > SAMPLE_RATE // FPS:
                log.info("%s: audio %.3f s longer than the video, trimmed", clip_id,
                         (wav.numel() - limit) / SAMPLE_RATE)
            wav = wav[:limit]
        feats = self.encoder.encode(wav, FPS)                        # (Na,L,D)
        if abs(feats.shape[0] - n) > 1:
            raise Skip(f"audio has {feats.shape[0]} frames at 25 fps, video {n}: lengths differ by more than 1")
        if feats.shape[0] != n:
            log.info("%s: audio %d frames -> %d (trim/pad by one)", clip_id, feats.shape[0], n)
            feats = feats[:n] if feats.shape[0] > n else torch.cat([feats, feats[-1:]])
        save_atomic({"features": feats.to(torch.float16).cpu()}, audio_file)

    def process(self, path: Path, clip_id: str, labels: dict) -> dict:
        try:
            clip = decode_video(path, FPS)
        except VideoError as exc:
            raise Skip(f"corrupt or unreadable video ({exc})")
        n = len(clip.frames)
        if n < MIN_FRAMES:
            raise Skip(f"too short: {n} frames at 25 fps ({clip.duration:.2f} s), need {MIN_FRAMES}")
        if not clip.has_audio:
            raise Skip("no audio track")
        motion_file = self.out / "motion" / f"{clip_id}.safetensors"
        audio_file = self.out / "audio" / f"{clip_id}.safetensors"
        crops_file = self.out / "crops" / f"{clip_id}.safetensors"
        self.audio(path, n, clip.duration, clip_id, audio_file)                     # cheap checks before face work
        need_crops = self.save_crops and not valid_file(crops_file, ("frames",))
        if need_crops or not valid_file(motion_file, ("motion", "kp")):
            crops = self.crops(clip.frames, clip_id)
            if need_crops:
                save_atomic({"frames": torch.from_numpy(crops)}, crops_file)
            motion, kp = self.motion(crops)
            save_atomic({"motion": motion, "kp": kp}, motion_file)
        entry = {"clip_id": clip_id, "frames": n, "fps": FPS, "duration": round(clip.duration, 4), **labels,
                 "motion": f"motion/{clip_id}.safetensors", "audio": f"audio/{clip_id}.safetensors"}
        if self.save_crops:
            entry["crops"] = f"crops/{clip_id}.safetensors"
        return entry


class Skip(Exception):
    """A clip that is left out; the message is the reason written to report.json."""


def done(out: Path, clip_id: str, save_crops: bool, retry_skipped: bool = False) -> bool:
    meta = out / "meta" / f"{clip_id}.json"
    if not meta.is_file():
        return False
    try:
        data = json.loads(meta.read_text())
    except ValueError:
        return False
    if "skipped" in data:
        return not retry_skipped
    entry = data.get("entry", {})
    files = [(out / entry.get("motion", "?"), ("motion", "kp")), (out / entry.get("audio", "?"), ("features",))]
    if save_crops:
        files.append((out / entry.get("crops", "?"), ("frames",)))
    return all(valid_file(p, k) for p, k in files)


def merge(out: Path) -> tuple[int, int]:
    """meta/*.json -> manifest.jsonl + report.json. Returns (clips, skipped)."""
    meta_dir = out / "meta"
    if not meta_dir.is_dir():
        raise FileNotFoundError(f"'{meta_dir}' not found: run prepare_data on --videos first (then --merge)")
    entries, skipped = [], []
    for f in sorted(meta_dir.glob("*.json")):
        data = json.loads(f.read_text())
        if "entry" in data:
            entries.append(data["entry"])
        else:
            skipped.append({"clip_id": f.stem, "path": data.get("path"), "reason": data["skipped"]})
    entries.sort(key=lambda e: e["clip_id"])
    tmp = out / f"manifest.jsonl.tmp{os.getpid()}"
    tmp.write_text("".join(json.dumps(e) + "\n" for e in entries))
    os.replace(tmp, out / "manifest.jsonl")
    write_json_atomic({"clips": len(entries), "skipped": skipped}, out / "report.json")
    log.info("merged: %d clips in manifest.jsonl, %d skipped (report.json)", len(entries), len(skipped))
    return len(entries), len(skipped)


def run(args) -> tuple[int, int]:
    out = Path(args.out)
    if args.merge:
        return merge(out)
    if args.videos is None or args.liveportrait is None or args.audio_encoder is None:
        raise SystemExit("prepare_data needs --videos, --liveportrait and --audio-encoder (or --merge)")
    if not (0 <= args.shard < args.num_shards):
        raise SystemExit(f"--shard must be in 0..{args.num_shards - 1}, got {args.shard}")
    root = Path(args.videos)
    videos = find_videos(root)
    labels = read_labels(Path(args.labels) if args.labels else None, root)
    todo = []
    for path in videos:
        row = labels.get(str(path.resolve()))
        clip_id = (row or {}).get("clip_id") or clip_id_for(path, root)
        row = row or labels.get(clip_id)
        if shard_of(clip_id, args.num_shards) != args.shard:
            continue
        if done(out, clip_id, args.save_crops, args.retry_skipped):
            log.info("%s: already prepared, skipping", clip_id)
            continue
        todo.append((path, clip_id, label_fields(row, clip_id, path, root)))
    log.info("shard %d/%d: %d videos to prepare", args.shard, args.num_shards, len(todo))
    if todo:
        prep = Preparer(out, Path(args.liveportrait), Path(args.audio_encoder), args.backend, args.save_crops,
                        args.max_missing, args.batch, args.tiny, args.device)
        for path, clip_id, lab in todo:
            try:
                record = {"entry": prep.process(path, clip_id, lab)}
                log.info("%s: %d frames", clip_id, record["entry"]["frames"])
            except Skip as exc:
                record = {"skipped": str(exc), "path": str(path)}
                log.warning("%s: skipped: %s", clip_id, exc)
            write_json_atomic(record, out / "meta" / f"{clip_id}.json")
        prep.cropper.close()
    if args.num_shards == 1:
        return merge(out)
    log.info("shard %d done; run `python -m trainer.prepare_data --out %s --merge` after all shards", args.shard, out)
    return len(todo), 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.prepare_data", description=__doc__.split("\n")[0])
    p.add_argument("--videos", help="folder of videos (mp4/mov/mkv/webm/avi, searched recursively)")
    p.add_argument("--out", required=True, help="output folder (manifest.jsonl, motion/, audio/, meta/)")
    p.add_argument("--liveportrait", help="LivePortrait weights folder (official or safetensors layout)")
    p.add_argument("--audio-encoder", help="local wav2vec2/HuBERT folder (e.g. wav2vec2-base-960h)")
    p.add_argument("--labels", help="CSV: clip_id or path, identity, emotion, intensity")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--merge", action="store_true", help="only rebuild manifest.jsonl/report.json from meta/")
    p.add_argument("--backend", default="mediapipe", help="face landmark backend: mediapipe, insightface, auto")
    p.add_argument("--save-crops", action="store_true", help="also save the 256 crops (needed by stage 0)")
    p.add_argument("--retry-skipped", action="store_true", help="process clips skipped by an earlier run again")
    p.add_argument("--max-missing", type=float, default=0.2, help="max fraction of frames without a face")
    p.add_argument("--batch", type=int, default=16, help="frames per motion-extractor batch")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto (M and the audio encoder)")
    p.add_argument("--tiny", action="store_true", help="the LivePortrait folder holds tiny test weights")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
