"""Prepare talking-face clips for Playmate training: videos -> single-person segments (motion, audio).

    python -m trainer.prepare_data --videos DIR --out DIR --liveportrait DIR --audio-encoder DIR \
        [--labels labels.csv | --label-format mead | --label-format celebvtext --labels DESCRIPTIONS] \
        [--shard i --num-shards n] [--backend mediapipe] [--save-crops]
    python -m trainer.prepare_data --out DIR --merge        # after all shards finished

Per clip (clip id = path relative to --videos without extension, "/" -> "__", or the CSV's clip_id) the
work of trainer/prepare_clip.py: streamed decoding at 25 fps, scene cuts, one tracked identity, single-
person segments of >= 90 frames, motion from the frozen M, audio features from the frozen encoder,
optional JPEG crops. Per clip a sidecar meta/<id>.json holds {"segments": [entries], "dropped": [...],
"labels": {...}} or {"skipped": reason}.

Prepared format (what the trainer reads; trainer/data.py):
    manifest.jsonl   one JSON object per kept segment: clip_id, source (the video's clip id), frames, fps
                     (25), duration, source_fps, start_frame (in the video at 25 fps), identity, emotion,
                     intensity, motion, audio, face_motion_sha256, audio_encoder {name, sha256}
                     [, crops, crop_range]
    motion/<id>.safetensors   "motion" (N,70) float32 (layout: playmate_core.motion.layout), "kp" (21,3)
    audio/<id>.safetensors    "features" (N,L,D) float16 encoder hidden states, "energy_db" (N,) float32
    crops/<clip>.jpg.bin + .idx.npy   JPEG crops of every frame of the video (trainer/crops_store.py)
    report.json      segments kept, frames dropped with reasons, clips skipped with reasons
Merge (automatic for one shard): meta/*.json + the labels they hold -> manifest.jsonl + report.json.
Resumable: a clip with a sidecar (and valid output files) is not processed again, but its labels are
re-read on every run, so corrected labels take effect without re-extracting anything.
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
import time
from pathlib import Path

from .common import format_eta
from .crops_store import valid_store
from .label_readers import FORMATS, read_label_rows
from .labels_csv import label_fields
from .prepare_clip import MIN_FRAMES, Preparer, Skip
from .video_io import find_videos

log = logging.getLogger("playmate.trainer")


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


def write_json_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def read_sidecar(out: Path, clip_id: str) -> dict | None:
    try:
        return json.loads((out / "meta" / f"{clip_id}.json").read_text())
    except (OSError, ValueError):
        return None


def _entries(data: dict) -> list:
    return data.get("segments") or ([data["entry"]] if "entry" in data else [])      # "entry": older sidecars


def done(out: Path, clip_id: str, save_crops: bool, retry_skipped: bool = False) -> bool:
    data = read_sidecar(out, clip_id)
    if data is None:
        return False
    if "skipped" in data:
        return not retry_skipped
    for entry in _entries(data):
        if not (valid_file(out / entry["motion"], ("motion", "kp")) and valid_file(out / entry["audio"], ("features",))):
            return False
        if save_crops and not (entry.get("crops") and valid_store(out / entry["crops"])):
            return False
    return bool(_entries(data))


def update_labels(out: Path, clip_id: str, labels: dict) -> bool:
    """Store the clip's current labels in its sidecar; True when they changed."""
    data = read_sidecar(out, clip_id)
    if data is None or "skipped" in data or data.get("labels") == labels:
        return False
    data["labels"] = labels
    write_json_atomic(data, out / "meta" / f"{clip_id}.json")
    return True


def merge(out: Path) -> tuple[int, int]:
    """meta/*.json -> manifest.jsonl (one row per kept segment, labels applied) + report.json."""
    meta_dir = out / "meta"
    if not meta_dir.is_dir():
        raise FileNotFoundError(f"'{meta_dir}' not found: run prepare_data on --videos first (then --merge)")
    entries, skipped, dropped = [], [], []
    for f in sorted(meta_dir.glob("*.json")):
        data = json.loads(f.read_text())
        if "skipped" in data:
            skipped.append({"clip_id": f.stem, "path": data.get("path"), "reason": data["skipped"]})
            continue
        labels = data.get("labels", {})
        entries += [{**e, **labels} for e in _entries(data)]
        dropped += [{"clip_id": f.stem, **d} for d in data.get("dropped", [])]
    entries.sort(key=lambda e: e["clip_id"])
    tmp = out / f"manifest.jsonl.tmp{os.getpid()}"
    tmp.write_text("".join(json.dumps(e) + "\n" for e in entries))
    os.replace(tmp, out / "manifest.jsonl")
    write_json_atomic({"clips": len(entries), "frames": sum(e["frames"] for e in entries), "skipped": skipped,
                       "dropped": dropped}, out / "report.json")
    log.info("merged: %d segments in manifest.jsonl, %d clips skipped, %d dropped frame ranges (report.json)",
             len(entries), len(skipped), len(dropped))
    return len(entries), len(skipped)


def _plan(args, out: Path) -> tuple[list, int]:
    """-> (videos to prepare [(path, clip_id, labels)], clips whose labels changed)."""
    root = Path(args.videos)
    videos = find_videos(root)
    fmt = args.label_format or "csv"
    table = read_label_rows(fmt, Path(args.labels) if args.labels else None, root, videos)
    todo, relabelled = [], 0
    for path in videos:
        row = table.get(str(path.resolve()))
        clip_id = (row or {}).get("clip_id") if fmt == "csv" else None
        clip_id = clip_id or clip_id_for(path, root)
        row = row or table.get(clip_id)
        if shard_of(clip_id, args.num_shards) != args.shard:
            continue
        labels = label_fields(row, clip_id, path, root)
        if done(out, clip_id, args.save_crops, args.retry_skipped):
            relabelled += update_labels(out, clip_id, labels)
            continue
        todo.append((path, clip_id, labels))
    return todo, relabelled


def run(args) -> tuple[int, int]:
    out = Path(args.out)
    if args.merge:
        return merge(out)
    if args.videos is None or args.liveportrait is None or args.audio_encoder is None:
        raise SystemExit("prepare_data needs --videos, --liveportrait and --audio-encoder (or --merge)")
    if not (0 <= args.shard < args.num_shards):
        raise SystemExit(f"--shard must be in 0..{args.num_shards - 1}, got {args.shard}")
    todo, relabelled = _plan(args, out)
    if relabelled:
        log.info("labels changed for %d already prepared clip(s): the manifest is re-derived (nothing re-extracted)",
                 relabelled)
    log.info("shard %d/%d: %d videos to prepare", args.shard, args.num_shards, len(todo))
    if todo:
        prep = Preparer(out, Path(args.liveportrait), Path(args.audio_encoder), args.backend, args.save_crops,
                        args.batch, args.tiny, args.device, args.min_frames)
        t0 = time.perf_counter()
        for i, (path, clip_id, labels) in enumerate(todo, 1):
            try:
                record = {**prep.process(path, clip_id), "labels": labels, "path": str(path)}
                kept = record["segments"]
                log.info("%s: %d segment(s) kept (%d frames), %d frame range(s) dropped", clip_id, len(kept),
                         sum(e["frames"] for e in kept), len(record["dropped"]))
            except Skip as exc:
                record = {"skipped": str(exc), "path": str(path)}
                log.warning("%s: skipped: %s", clip_id, exc)
            write_json_atomic(record, out / "meta" / f"{clip_id}.json")
            spent = time.perf_counter() - t0
            log.info("progress %d/%d videos, %s elapsed, eta %s", i, len(todo), format_eta(spent),
                     format_eta(spent / i * (len(todo) - i)))
        prep.close()
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
    p.add_argument("--labels", help="labels: a CSV (clip_id or path, identity, emotion, intensity), or for "
                   "--label-format celebvtext the folder of CelebV-Text emotion descriptions")
    p.add_argument("--label-format", choices=FORMATS, help="csv (default with --labels), mead (from MEAD's folder "
                   "names, no --labels needed) or celebvtext")
    p.add_argument("--min-frames", type=int, default=MIN_FRAMES,
                   help="shortest single-person segment kept (frames at 25 fps; one training window is 90)")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--merge", action="store_true", help="only rebuild manifest.jsonl/report.json from meta/")
    p.add_argument("--backend", default="mediapipe", help="face landmark backend: mediapipe, insightface, auto")
    p.add_argument("--save-crops", action="store_true", help="also save the 256 crops (needed by stage 0)")
    p.add_argument("--retry-skipped", action="store_true", help="process clips skipped by an earlier run again")
    p.add_argument("--batch", type=int, default=16, help="frames per motion-extractor batch")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto (M and the audio encoder)")
    p.add_argument("--tiny", action="store_true", help="the LivePortrait folder holds the tiny demo/test weights "
                   "(tools/make_demo_models.py, tests); never for real data")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
