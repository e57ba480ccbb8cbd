"""Downloadable model files: where each comes from, where it goes, its licence; the opt-in fetcher.

Nothing here runs on import or by default: `fetch_bundle(..., offline=False)` is the only code
that touches the network, and only for files that are missing. Files land in the model folders
the caller gives (ComfyUI's `models/<folder>`), never in a cache on the system disk.

    plan = plan_bundle("liveportrait", {"liveportrait": "/ComfyUI/models/liveportrait"})
    fetch_bundle("liveportrait", folders, offline=True)     # FileNotFoundError listing the paths
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

log = logging.getLogger("playmate")

LIVEPORTRAIT_LICENCE = "MIT (LivePortrait by Kuaishou / KwaiVGI; Kijai's files are a safetensors conversion)"
WAV2VEC2_LICENCE = "Apache-2.0 (facebook/wav2vec2-base-960h, Meta AI)"
JOYVASA_LICENCE = ("JoyVASA code: MIT (jdh-algo/JoyVASA); no separate weights licence could be checked offline: "
                   "read the model card before commercial use")
HUBERT_LICENCE = "not verified offline: read the TencentGameMate/chinese-hubert-base model card"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a bundle: `candidates` are tried in order (the first that exists on the hub)."""
    repo_id: str
    candidates: tuple            # file names inside the hub repository
    folder: str                  # model-folder key: "liveportrait", "audio_encoders", "playmate"
    dest: str                    # path relative to that folder (for the first candidate's suffix)
    licence: str

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/resolve/main/{self.candidates[0]}"

    def local_candidates(self, root: Path) -> list:
        """Every local path that counts as this file being present (one per candidate suffix)."""
        base = root / self.dest
        stems = {base}
        for cand in self.candidates[1:]:
            stems.add(base.with_name(Path(cand).name))
        return sorted(stems)


_LP_SLOTS = ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator",
             "stitching_retargeting_module")
_ANIMAL = "liveportrait_animals"

BUNDLES: dict = {
    # Kijai's safetensors conversion, the layout ComfyUI users already keep in models/liveportrait/.
    "liveportrait": tuple(RemoteFile("Kijai/LivePortrait_safetensors", (f"{slot}.safetensors",), "liveportrait",
                                     f"{slot}.safetensors", LIVEPORTRAIT_LICENCE) for slot in _LP_SLOTS),
    # The official animal weights (.pth, read with torch.load(weights_only=True)); stitching is the human one.
    "liveportrait-animal": tuple(
        RemoteFile("KwaiVGI/LivePortrait", (f"{_ANIMAL}/base_models_v1.1/{slot}.pth",), "liveportrait",
                   f"{_ANIMAL}/base_models_v1.1/{slot}.pth", LIVEPORTRAIT_LICENCE) for slot in _LP_SLOTS[:4]),
    # JoyVASA's trained motion generator (a torch pickle read with weights_only=True + an allow-list) and
    # its template; the encoder's weights are inside the .pt, only chinese-hubert-base's config is needed.
    "joyvasa": (RemoteFile("jdh-algo/JoyVASA", ("motion_generator/motion_generator_hubert_chinese.pt",), "playmate",
                           "motion_generator_hubert_chinese.pt", JOYVASA_LICENCE),
                RemoteFile("jdh-algo/JoyVASA", ("motion_template/motion_template.pkl",), "playmate",
                           "motion_template.pkl", JOYVASA_LICENCE),
                RemoteFile("TencentGameMate/chinese-hubert-base", ("config.json",), "audio_encoders",
                           "chinese-hubert-base/config.json", HUBERT_LICENCE)),
    "wav2vec2-base-960h": tuple(
        RemoteFile("facebook/wav2vec2-base-960h", names, "audio_encoders", f"wav2vec2-base-960h/{names[0]}",
                   WAV2VEC2_LICENCE)
        for names in (("config.json",), ("preprocessor_config.json",),
                      ("model.safetensors", "pytorch_model.bin"))),
}


def _root(folders: Mapping[str, str | os.PathLike], key: str) -> Path:
    if key not in folders:
        raise ValueError(f"no folder given for '{key}' files; pass folders={{'{key}': '<ComfyUI>/models/{key}'}}")
    return Path(folders[key])


def plan_bundle(name: str, folders: Mapping[str, str | os.PathLike]) -> list:
    """[(RemoteFile, destination Path, present bool)] for bundle `name` under the given folders."""
    if name not in BUNDLES:
        raise ValueError(f"unknown model bundle {name!r}; choose one of {sorted(BUNDLES)}")
    plan = []
    for f in BUNDLES[name]:
        root = _root(folders, f.folder)
        present = next((p for p in f.local_candidates(root) if p.is_file()), None)
        plan.append((f, present or root / f.dest, present is not None))
    return plan


def describe_bundle(name: str, folders: Mapping[str, str | os.PathLike]) -> str:
    """Human-readable list: each file, its source URL, its licence and whether it is present."""
    lines = [f"{name}:"]
    for f, path, present in plan_bundle(name, folders):
        lines.append(f"  [{'present' if present else 'missing'}] {path}\n      from {f.url}\n      licence: {f.licence}")
    return "\n".join(lines)


def _hub_download(repo_id: str, filename: str, staging: Path) -> Path:
    """Fetch one file from the Hugging Face hub into `staging` (huggingface_hub comes with transformers)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:                                       # pragma: no cover - transformers needs it
        raise RuntimeError("downloading needs the huggingface_hub package (pip install huggingface_hub)") from exc
    return Path(hf_hub_download(repo_id=repo_id, filename=filename, local_dir=str(staging)))


def fetch_bundle(name: str, folders: Mapping[str, str | os.PathLike], offline: bool = True,
                 download: Callable[[str, str, Path], Path] = _hub_download,
                 progress: Callable[[int, int], None] | None = None) -> list:
    """Make every file of bundle `name` present; returns [(path, licence)].

    offline=True (the default) never touches the network: missing files raise FileNotFoundError
    listing every expected path with its URL and licence. offline=False downloads only the missing
    files, one at a time, into a staging folder beside the destination, then moves each into place
    (a half-downloaded file never sits at the final path). `download(repo_id, filename, staging)`
    is injectable for tests.
    """
    plan = plan_bundle(name, folders)
    missing = [(f, path) for f, path, present in plan if not present]
    if missing and offline:
        listing = "\n".join(f"  {path}  <- {f.url}  ({f.licence})" for f, path in missing)
        raise FileNotFoundError(f"offline mode: {len(missing)} file(s) of '{name}' are missing:\n{listing}\n"
                                f"Put them there by hand, or run the download with offline off.")
    for i, (f, path) in enumerate(missing):
        staging = path.parent / ".playmate-download"
        staging.mkdir(parents=True, exist_ok=True)
        last_error = None
        for cand in f.candidates:
            try:
                got = download(f.repo_id, cand, staging)
            except Exception as exc:                                  # try the next spelling
                last_error = exc
                continue
            target = path.with_name(Path(cand).name)
            log.info("downloaded %s/%s -> %s (%s)", f.repo_id, cand, target, f.licence)
            shutil.move(str(got), str(target))
            break
        else:
            raise RuntimeError(f"could not download {f.url} into {path}: {last_error}") from last_error
        shutil.rmtree(staging, ignore_errors=True)
        if progress is not None:
            progress(i + 1, len(missing))
    return [(path, f.licence) for f, path, _ in plan_bundle(name, folders)]
