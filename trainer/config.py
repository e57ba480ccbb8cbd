"""Training configuration: strict dataclasses with YAML and `--set key=value` overrides.

    cfg = load_config(TrainConfig, "run.yaml", ["optim.lr=3e-4", "steps=1000"])

Order: dataclass defaults < YAML file < --set overrides. Unknown keys (in the file or in --set) are
refused with the list of valid keys, and values are checked against the field's type, so a
misspelled option never silently does nothing. Defaults follow motion-model.md §2.4-2.7.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence


@dataclass
class OptimConfig:
    """AdamW + linear warm-up + cosine decay to lr * min_lr_ratio; grad-norm clipping."""
    lr: float = 1e-4
    warmup_steps: int = 2000
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    grad_clip: float = 1.0
    ema_decay: float = 0.9999


@dataclass
class DataConfig:
    """batch_size is PER PROCESS (global batch = batch_size * world size)."""
    batch_size: int = 64
    num_workers: int = 2
    min_frames: int = 90          # clips shorter than one window (P + T) are skipped, never looped


@dataclass
class ConditionConfig:
    """Condition dropout and prev-frame augmentation (motion-model.md §2.5, §2.7)."""
    p_null_audio: float = 0.1     # stage 1: audio -> null embedding (CFG)
    p_start: float = 0.1          # prev = reference frame x P with null prev audio ("start" case)
    prev_noise_steps: int = 50    # t_aug ~ U{0..prev_noise_steps-1} on GT prev frames
    p_both_null: float = 0.10     # stage 2: u < p_both_null -> audio and emotion null
    p_emotion_null: float = 0.35  # stage 2: p_both_null <= u < p_both_null + p_emotion_null -> emotion null


@dataclass
class ValConfig:
    """Held-out validation by identity (trainer/validation.py). fraction 0 and no identities = no split
    (trainer/configs/base.yaml holds out 5 %)."""
    fraction: float = 0.0         # share of identities held out (at least one when > 0), chosen by name hash
    identities: str = ""          # or an explicit comma-separated list of identities to hold out
    min_identities: int = 10      # fraction only: fewer identities in the data -> no split (warning), train on all
    every: int = 1000             # evaluate every N steps (and at the end of the run)
    clips: int = 8                # at most this many held-out clips per evaluation
    seconds: float = 10.0         # first seconds of each clip generated for the motion metrics
    steps: int = 25               # sampling steps (eta = 1) of the generated validation motion
    emotion_clips: int = 2        # stage 2: held-out clips generated with every emotion label (val/emotion_acc)
    video_every: int = 5          # with face_weights: a rendered video every N evaluations (0 = never)
    video_seconds: float = 3.0    # length of that video (from the first held-out clip)
    video_size: int = 256         # its side in pixels (the 512 render resized)


@dataclass
class TrainConfig:
    preset: str = "base"          # motion model preset: tiny (tests) | base
    steps: int = 200_000          # total optimizer steps (the LR schedule spans them)
    save_every: int = 5000        # training state + EMA motion checkpoint every N steps (and at the end)
    log_every: int = 50
    seed: int = 0
    bf16: bool = True             # bf16 autocast, CUDA only (ignored on CPU)
    device: str = "auto"          # auto | cpu | cuda
    stage1: str = ""              # stage 2 only: the stage-1 motion checkpoint (.safetensors)
    init_from: str = ""           # start a NEW run from these weights (stage 1: a stage-1 or full checkpoint;
                                  # stage 2: an emotion or full checkpoint); --init-from
    face_weights: str = ""        # LivePortrait folder the model will render with: the dataset must have been
                                  # prepared with it (--face-weights; checked when given)
    threads: int = 0              # torch CPU threads per process; 0 = auto (trainer/common.py: default_threads)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    cond: ConditionConfig = field(default_factory=ConditionConfig)
    val: ValConfig = field(default_factory=ValConfig)

    def validate(self) -> "TrainConfig":
        c, o = self.cond, self.optim
        checks = [(self.steps >= 1, "steps must be >= 1"), (self.save_every >= 1, "save_every must be >= 1"),
                  (self.log_every >= 1, "log_every must be >= 1"),
                  (self.data.batch_size >= 1, "data.batch_size must be >= 1"),
                  (self.data.min_frames >= 90, "data.min_frames must be >= 90 (one 10 + 80 frame window)"),
                  (o.lr > 0 and o.warmup_steps >= 0 and 0 <= o.min_lr_ratio <= 1,
                   "optim: need lr > 0, warmup_steps >= 0, 0 <= min_lr_ratio <= 1"),
                  (0 <= o.ema_decay < 1, "optim.ema_decay must be in [0, 1)"),
                  (1 <= c.prev_noise_steps <= 1000, "cond.prev_noise_steps must be in 1..1000"),
                  (c.p_both_null + c.p_emotion_null <= 1, "cond.p_both_null + cond.p_emotion_null must be <= 1"),
                  (self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda"),
                  (self.threads >= 0, "threads must be >= 0 (0 = auto)"),
                  (0 <= self.val.fraction < 1, "val.fraction must be in [0, 1)"),
                  (self.val.every >= 1 and self.val.clips >= 1 and self.val.steps >= 1 and self.val.seconds > 0,
                   "val.every, val.clips, val.steps must be >= 1 and val.seconds > 0"),
                  (self.val.min_identities >= 2, "val.min_identities must be >= 2 (one held out, one trained on)"),
                  (self.val.emotion_clips >= 0 and self.val.video_every >= 0,
                   "val.emotion_clips and val.video_every must be >= 0 (0 = off)"),
                  (0 < self.val.video_seconds <= 60 and 64 <= self.val.video_size <= 512,
                   "val.video_seconds must be in (0, 60] and val.video_size in 64..512")]
        checks += [(0 <= p <= 1, f"cond.{n} must be in [0, 1]") for n, p in
                   (("p_null_audio", c.p_null_audio), ("p_start", c.p_start), ("p_both_null", c.p_both_null),
                    ("p_emotion_null", c.p_emotion_null))]
        bad = [msg for ok, msg in checks if not ok]
        if bad:
            raise ValueError("invalid training config: " + "; ".join(bad))
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(value: Any, ftype, key: str):
    if ftype is bool:
        if isinstance(value, bool):
            return value
    elif ftype is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif ftype is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):                  # YAML 1.1 reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif ftype is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ValueError(f"config key '{key}' expects {ftype.__name__}, got {value!r}")


def _merge(obj, data: Mapping, prefix: str = "") -> None:
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in data.items():
        path = prefix + str(key)
        if key not in names:
            raise ValueError(f"unknown config key '{path}'; valid keys here: {', '.join(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ValueError(f"config key '{path}' is a section; give a mapping or use '{path}.<key>=value'")
            _merge(current, value, path + ".")
        else:
            setattr(obj, key, _coerce(value, hints[key], path))


def parse_set(items: Sequence[str]) -> dict:
    """['optim.lr=3e-4', 'steps=10'] -> nested dict; values parsed as YAML scalars."""
    import yaml
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value (e.g. optim.lr=3e-4), got {item!r}")
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def load_config(cls=TrainConfig, path: str | Path | None = None, overrides: Sequence[str] = (),
                base: Mapping | None = None):
    """defaults < base (a script's own defaults) < YAML file < --set overrides; strict."""
    cfg = cls()
    if base:
        _merge(cfg, base)
    if path:
        import yaml
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file '{path}' does not exist; pass an existing YAML file to --config")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"config file '{path}' must hold a YAML mapping of keys to values")
        _merge(cfg, data)
    _merge(cfg, parse_set(overrides))
    return cfg.validate()


def stage_arguments(doc: str, out_help: str) -> argparse.ArgumentParser:
    """The options every motion stage takes: --data, --out, --config, --set, --init-from, --face-weights,
    --allow-config-change."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="prepared dataset folder (manifest.jsonl)")
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--config", help="YAML file of TrainConfig overrides (trainer/configs/)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="dotted overrides, e.g. optim.lr=3e-4")
    parser.add_argument("--init-from", metavar="CKPT", help="start a new run from these weights (fine-tuning); "
                        "same as --set init_from=CKPT")
    parser.add_argument("--face-weights", metavar="DIR", help="LivePortrait folder the model will be used with; "
                        "refuses a dataset prepared with other face weights (same as --set face_weights=DIR)")
    parser.add_argument("--allow-config-change", action="store_true",
                        help="resume even though the config (or dataset) differs from the saved run's; "
                             "the changes are logged and recorded in run.json")
    return parser


def stage_config(args, extra_sets: Sequence[str] = ()) -> "TrainConfig":
    """The resolved TrainConfig of a stage's parsed arguments (flags become --set overrides)."""
    sets = list(args.set) + list(extra_sets)
    sets += [f"init_from={args.init_from}"] if args.init_from else []
    sets += [f"face_weights={args.face_weights}"] if args.face_weights else []
    return load_config(TrainConfig, args.config, sets)
