"""Where LivePortrait weights live on disk, in the two public layouts, and how their keys map to ours.

Layouts (the variant is detected from what is in the folder, never from file names inside a slot):
* official  (HF KwaiVGI/LivePortrait): `base_models/<slot>.pth` + `retargeting_models/
  stitching_retargeting_module.pth`; the stitching file is a dict {top: {'module.mlp.N.*': tensor}}.
* safetensors (HF Kijai/LivePortrait_safetensors, kept in `ComfyUI/models/liveportrait/`):
  `<slot>.safetensors`, same keys; stitching flattened as `<top>_module.mlp.N.*`.
  The animal variant sits in `animal/`; its stitching file may be absent, in which case the human
  one from the parent folder is used (as the official animal pipeline does).
A non-public architecture (tiny test/demo models) is described by `playmate_face_config.json` in the
folder that holds the weights (`read_face_config`); without it the public architecture is assumed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from .config import FACE_CONFIG_FILENAME, FaceEngineConfig
from ..loading import CheckpointError

BASE_SLOTS = ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator")
STITCHING_SLOT = "stitching_retargeting_module"
SLOTS = BASE_SLOTS + (STITCHING_SLOT,)
STITCHING_TOPS = ("retarget_shoulder", "retarget_mouth", "retarget_eye")   # stitching, lip, eye
DDP_PREFIX = "module."
KJ_SUFFIX = "_module."

# A key that only one slot's file has: used to say what a misplaced file really is.
SIGNATURE_KEYS = {
    "appearance_feature_extractor": "resblocks_3d.3dr0.conv1.weight",
    "motion_extractor": "detector.fc_kp.weight",
    "warping_module": "dense_motion_network.mask.weight",
    "spade_generator": "G_middle_0.conv_0.weight_orig",
}

SOURCES = {
    "official": "https://huggingface.co/KwaiVGI/LivePortrait (folder liveportrait/, or liveportrait_animals/)",
    "safetensors": "https://huggingface.co/Kijai/LivePortrait_safetensors",
}
LICENSE = "MIT (LivePortrait weights by Kuaishou/KwaiVGI; the safetensors are a format conversion of them)"


@dataclass(frozen=True)
class WeightFiles:
    layout: str                 # "official" or "safetensors"
    files: Mapping[str, Path]   # slot -> file


def _official_candidates(root: Path, animal: bool) -> list[Path]:
    subdirs = ["base_models_v1.1", "base_models"] if animal else ["base_models"]
    roots = [root, root / ("liveportrait_animals" if animal else "liveportrait")]
    return [r / s for r in roots for s in subdirs]


def expected_paths(root: str | Path, animal: bool = False) -> list[str]:
    root = Path(root)
    base = root / "animal" if animal else root
    kj = [str(base / f"{s}.safetensors") for s in SLOTS]
    off = _official_candidates(root, animal)[0]
    official = [str(off / f"{s}.pth") for s in BASE_SLOTS]
    official.append(str(off.parent / "retargeting_models" / f"{STITCHING_SLOT}.pth"))
    return kj + official


def missing_weights_message(root: str | Path, animal: bool = False) -> str:
    lines = "\n  ".join(expected_paths(root, animal))
    return (f"LivePortrait weights not found under '{root}'. Expected either layout:\n  {lines}\n"
            f"Get them from {SOURCES['safetensors']} (put the files in ComfyUI/models/liveportrait/"
            f"{'animal/' if animal else ''}) or {SOURCES['official']}. Licence: {LICENSE}.")


def locate(root: str | Path, animal: bool = False) -> WeightFiles:
    """Find the five files under `root` in either layout, or raise FileNotFoundError listing both."""
    root = Path(root)
    kj_dir = root / "animal" if animal and (root / "animal").is_dir() else root
    kj = {s: kj_dir / f"{s}.safetensors" for s in SLOTS}
    if all(kj[s].is_file() for s in BASE_SLOTS):
        if not kj[STITCHING_SLOT].is_file() and (kj_dir.parent / f"{STITCHING_SLOT}.safetensors").is_file():
            kj[STITCHING_SLOT] = kj_dir.parent / f"{STITCHING_SLOT}.safetensors"
        if kj[STITCHING_SLOT].is_file():
            return WeightFiles("safetensors", kj)
    for base in _official_candidates(root, animal):
        files = {s: base / f"{s}.pth" for s in BASE_SLOTS}
        stitch = [base.parent / "retargeting_models" / f"{STITCHING_SLOT}.pth",
                  base.parent.parent / "liveportrait" / "retargeting_models" / f"{STITCHING_SLOT}.pth"]
        found = next((p for p in stitch if p.is_file()), None)
        if found is not None and all(p.is_file() for p in files.values()):
            return WeightFiles("official", {**files, STITCHING_SLOT: found})
    raise FileNotFoundError(missing_weights_message(root, animal))


def misplaced_hint(state: Mapping[str, object], slot: str) -> str:
    """' It looks like <other slot> weights.' when a file clearly belongs to another slot."""
    for other, key in SIGNATURE_KEYS.items():
        if other != slot and key in state:
            return f" It looks like {other} weights: put '{other}' in that slot."
    if slot != STITCHING_SLOT and any(str(k).startswith(STITCHING_TOPS) for k in state):
        return " It looks like the stitching/retargeting weights."
    return ""


def stitching_state(raw: Mapping[str, object], path: Path) -> dict:
    """Map either stitching layout to our keys '<top>.mlp.N.weight'. Other top-level entries are ignored."""
    out = {}
    if any(top in raw and isinstance(raw[top], Mapping) for top in STITCHING_TOPS):     # official, nested
        for top in STITCHING_TOPS:
            inner = raw.get(top)
            if not isinstance(inner, Mapping):
                raise CheckpointError(f"{STITCHING_SLOT}: '{path}' has no '{top}' entry.")
            for key, value in inner.items():
                out[f"{top}.{key.removeprefix(DDP_PREFIX)}"] = value
        return out
    for key, value in raw.items():                                                      # flattened
        top = next((t for t in STITCHING_TOPS if key.startswith(t + KJ_SUFFIX)), None)
        if top is not None:
            out[f"{top}.{key.removeprefix(top + KJ_SUFFIX).removeprefix(DDP_PREFIX)}"] = value
    if not out:
        raise CheckpointError(f"{STITCHING_SLOT}: '{path}' holds none of the keys "
                              f"{[t + KJ_SUFFIX + 'mlp.0.weight' for t in STITCHING_TOPS]}."
                              f"{misplaced_hint(raw, STITCHING_SLOT)}")
    return out


def to_official_stitching(state: Mapping[str, torch.Tensor]) -> dict:
    """Our stitching keys -> the official nested layout with 'module.' inner keys (for writing files)."""
    return {top: {DDP_PREFIX + k.removeprefix(top + "."): v for k, v in state.items() if k.startswith(top + ".")}
            for top in STITCHING_TOPS}


def to_flat_stitching(state: Mapping[str, torch.Tensor]) -> dict:
    """Our stitching keys -> the flattened safetensors layout '<top>_module.<inner>'."""
    out = {}
    for key, value in state.items():
        top, inner = key.split(".", 1)
        out[f"{top}{KJ_SUFFIX}{inner}"] = value
    return out


def config_folder(root: str | Path, animal: bool = False) -> Path:
    """The folder whose FACE_CONFIG_FILENAME describes the weights: `root/animal` for animal=True
    (when it exists), else `root`."""
    root = Path(root)
    return root / "animal" if animal and (root / "animal").is_dir() else root


def read_face_config(folder: str | Path) -> FaceEngineConfig | None:
    """FaceEngineConfig from `folder/playmate_face_config.json`, or None when there is no such file.

    Strict: invalid JSON, unknown or missing keys raise ValueError naming the file.
    """
    file = Path(folder) / FACE_CONFIG_FILENAME
    if not file.is_file():
        return None
    fix = (f"delete '{file}' to use the public LivePortrait architecture, or rewrite it with "
           f"save_weights(..., config=FaceEngineConfig...)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"face config '{file}' is not readable JSON ({exc}); {fix}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"face config '{file}' must hold a JSON object, got {type(data).__name__}; {fix}")
    try:
        return FaceEngineConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"face config '{file}' does not describe a FaceEngineConfig ({exc}); {fix}") from exc


def write_face_config(folder: str | Path, config: FaceEngineConfig) -> Path:
    """Write `config.to_json()` to `folder/playmate_face_config.json` and return the path."""
    file = Path(folder) / FACE_CONFIG_FILENAME
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(config.to_dict(), indent=1), encoding="utf-8")
    return file


def save_weights(modules: Mapping[str, torch.nn.Module], root: str | Path, layout: str,
                 config: FaceEngineConfig | None = None) -> WeightFiles:
    """Write modules (slot -> module) in one of the public layouts. Used by tests, the trainer and
    tools/make_demo_models.py. With `config`, also write it as `root/playmate_face_config.json`."""
    root = Path(root)
    if layout not in ("official", "safetensors"):
        raise ValueError(f"unknown layout {layout!r}; expected 'official' or 'safetensors'")
    if config is not None:
        write_face_config(root, config)
    files = {}
    for slot, module in modules.items():
        state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        if layout == "safetensors":
            from safetensors.torch import save_file
            if slot == STITCHING_SLOT:
                state = to_flat_stitching(state)
            files[slot] = root / f"{slot}.safetensors"
            files[slot].parent.mkdir(parents=True, exist_ok=True)
            save_file(state, str(files[slot]))
        elif layout == "official":
            sub = "retargeting_models" if slot == STITCHING_SLOT else "base_models"
            files[slot] = root / sub / f"{slot}.pth"
            files[slot].parent.mkdir(parents=True, exist_ok=True)
            torch.save(to_official_stitching(state) if slot == STITCHING_SLOT else state, str(files[slot]))
        else:
            raise ValueError(f"unknown layout {layout!r}; expected 'official' or 'safetensors'")
    return WeightFiles(layout, files)
