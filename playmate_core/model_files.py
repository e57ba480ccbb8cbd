"""Downloadable model files: where each comes from, where it goes, its licence; the fetcher.

Nothing here runs on import. `fetch_bundle(..., offline=False)` / `fetch_missing(...)` are the only code
that touches the network, and only for files that are missing. Files land in the model folders the caller
gives (ComfyUI's `models/<folder>`), never in a cache on the system disk; each is streamed to a hidden
partial file and renamed into place when complete (hub_download.py). HF_ENDPOINT is honoured.

    plan = plan_bundle("liveportrait", {"liveportrait": "/ComfyUI/models/liveportrait"})
    fetch_bundle("liveportrait", folders, offline=True)     # FileNotFoundError listing the paths
    missing = missing_files(["joyvasa", "liveportrait"], folders)
    fetch_missing(missing, progress=cb)                       # or: raise ... missing_message(missing, why, fix)
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from .hub_download import DownloadError, download_file, endpoint, file_url

log = logging.getLogger("playmate")

LIVEPORTRAIT_LICENCE = "MIT (LivePortrait by Kuaishou / KwaiVGI; Kijai's files are a safetensors conversion)"
WAV2VEC2_LICENCE = "Apache-2.0 (facebook/wav2vec2-base-960h, Meta AI)"
JOYVASA_LICENCE = "MIT (jdh-algo/JoyVASA model card; JD Health)"
HUBERT_LICENCE = "MIT (TencentGameMate/chinese-hubert-base model card)"


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
        """Where the first candidate is served ($HF_ENDPOINT, else huggingface.co)."""
        return file_url(self.repo_id, self.candidates[0])

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
    # the JoyVASA encoder's config alone (for a JoyVASA checkpoint installed without it)
    "chinese-hubert-base": (RemoteFile("TencentGameMate/chinese-hubert-base", ("config.json",), "audio_encoders",
                                       "chinese-hubert-base/config.json", HUBERT_LICENCE),),
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


# the first N files of a bundle belong together: one missing -> all N are fetched (JoyVASA's template is made
# for its checkpoint; a template left beside another checkpoint, e.g. the demo one, must not be paired with it)
PAIRED = {"joyvasa": 2}


def missing_files(names, folders: Mapping[str, str | os.PathLike]) -> list:
    """[(RemoteFile, destination Path)] of every file of the named bundles that is not present (in order)."""
    out = []
    for name in names:
        plan = plan_bundle(name, folders)
        paired = PAIRED.get(name, 0)
        whole = any(not present for _, _, present in plan[:paired])
        out += [(f, path) for i, (f, path, present) in enumerate(plan) if not present or (whole and i < paired)]
    return out


def missing_message(missing: list, why: str, fix: str) -> str:
    """ONE message: why, then each missing file with its folder, URL and licence, then what to do."""
    listing = "\n".join(f"  {path}\n      <- {f.url}\n      licence: {f.licence}" for f, path in missing)
    folders = sorted({str(path.parent) for _, path in missing})
    return (f"{why} {len(missing)} public file(s) are missing:\n{listing}\nFolders: {', '.join(folders)}. "
            f"{fix} (Files come from {endpoint()}; set HF_ENDPOINT for a mirror.)")


def fetch_missing(missing: list, download: Callable | None = None, progress: Callable[[int, int], None] | None = None,
                  check: Callable[[], None] | None = None,
                  on_file: Callable[[int, int, object, Path], None] | None = None) -> list:
    """Download each (RemoteFile, path) of `missing`, one at a time; returns [(path, licence)].

    Candidate spellings are tried in order (the next after an HTTP error). Each file is streamed to a hidden
    partial file beside its destination and renamed into place when complete (hub_download.download_file),
    so a cancel or failure leaves nothing half-written at a final path. download(url, dest, progress=,
    check=) is injectable for tests; progress(done, total) is in bytes, per file; on_file(i, n, file, path)
    runs before each file. Each file's licence is logged."""
    download = download or download_file
    done = []
    for i, (f, path) in enumerate(missing):
        if on_file is not None:
            on_file(i, len(missing), f, path)
        last_error = None
        for cand in f.candidates:
            target = path.with_name(Path(cand).name)
            try:
                download(file_url(f.repo_id, cand), target, progress=progress, check=check)
            except DownloadError as exc:                              # try the next spelling
                last_error = exc
                continue
            log.info("Playmate downloaded %s -> %s (%d bytes); licence: %s", file_url(f.repo_id, cand), target,
                     target.stat().st_size, f.licence)
            done.append((target, f.licence))
            break
        else:
            raise DownloadError(f"could not download {f.url} into {path}: {last_error}") from last_error
    return done


def fetch_bundle(name: str, folders: Mapping[str, str | os.PathLike], offline: bool = True,
                 download: Callable | None = None, progress: Callable[[int, int], None] | None = None,
                 check: Callable[[], None] | None = None) -> list:
    """Make every file of bundle `name` present; returns [(path, licence)] of the whole bundle.

    offline=True (the default) never touches the network: missing files raise FileNotFoundError listing
    every expected path with its URL and licence. offline=False downloads only the missing files
    (fetch_missing)."""
    missing = missing_files([name], folders)
    if missing and offline:
        raise FileNotFoundError(missing_message(missing, f"offline mode: bundle '{name}':",
                                                "Put them there by hand, or run the download with offline off."))
    fetch_missing(missing, download=download, progress=progress, check=check)
    return [(path, f.licence) for f, path, _ in plan_bundle(name, folders)]
