"""What a run folder records about itself, and the config check on resume.

Files written by rank 0 at every launch (start or resume) of a motion stage:
    config.yaml   the resolved TrainConfig of the current launch (defaults < --config < --set)
    run.json      {"stage", "launches": [{time, argv, cwd, host, world_size, code_version, packages,
                   dataset {path, manifest_sha256, clips, ...}, seeds, resumed_from_step, config_changes}]}
A resumed run appends one launch; nothing is overwritten but config.yaml (the newest config).

Resume check: the saved state's config is compared key by key with the new one. Keys that change
only how the run is watched (RESUME_FREE) may differ; any other difference (and another dataset)
is refused with the list of keys, unless --allow-config-change is given: then each change is logged
and recorded in run.json.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

log = logging.getLogger("playmate.trainer")

RESUME_FREE = ("log_every", "save_every", "data.num_workers", "threads", "val.every", "val.clips",
               "val.seconds", "val.steps", "val.emotion_clips", "val.video_every", "val.video_seconds",
               "val.video_size")
PACKAGES = ("torch", "numpy", "safetensors", "transformers", "av", "opencv-python", "opencv-python-headless",
            "mediapipe", "PyYAML", "tensorboard")
REPO = Path(__file__).resolve().parents[1]
DATASET_KEY = "dataset.manifest_sha256"


def flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def config_changes(old: dict, new: dict) -> list:
    """[(dotted key, old value, new value)] for every key whose value differs (sorted). A key the saved
    config does not have at all was added by a later version of the trainer: it is logged, not a change,
    so runs started before it can resume."""
    a, b = flatten(old), flatten(new)
    added = sorted(set(b) - set(a))
    if added:
        log.info("resume: config keys newer than the saved run, taken as given: %s",
                 ", ".join(f"{k}={b[k]!r}" for k in added))
    return [(k, a.get(k, "<absent>"), b.get(k, "<absent>")) for k in sorted(set(a) | set(b))
            if k in a and a.get(k) != b.get(k)]


def format_changes(changes: list) -> str:
    return ", ".join(f"{k}: {old!r} -> {new!r}" for k, old, new in changes)


def code_version() -> str:
    """`git describe --always --dirty --tags` of the trainer's repository, else 'unknown (no git)'."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown (no git)"


def package_versions() -> dict:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        import torch
        found["cuda"] = torch.version.cuda or "none"
    except ImportError:
        pass
    return found


def write_launch(out: Path, stage: str, cfg, dist, dataset: dict, resumed_from: int | None,
                 changes: list, seeds: dict) -> dict:
    """Rank 0: config.yaml + one appended launch in run.json. Returns the launch record."""
    import yaml
    launch = {"time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "argv": sys.argv,
              "cwd": os.getcwd(), "host": platform.node(), "world_size": dist.world, "code_version": code_version(),
              "packages": package_versions(), "dataset": dataset, "seeds": seeds,
              "resumed_from_step": resumed_from,
              "config_changes": [{"key": k, "old": o, "new": n} for k, o, n in changes]}
    if not dist.main:
        return launch
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    path = out / "run.json"
    record = json.loads(path.read_text()) if path.is_file() else {"stage": stage, "launches": []}
    record["launches"].append(launch)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, path)
    return launch
