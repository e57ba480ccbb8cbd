"""Where a dataset and a checkpoint come from: hashes recorded by prepare_data and checked by the stages.

    dataset_provenance(root) -> {"path", "manifest_sha256", "audio_encoder": {"name", "sha256"},
                                 "face_motion_sha256"}       (unknown = prepared before these were recorded)
    face_weights_fingerprint(folder) -> sha256 of the motion extractor M's tensors (layout-independent)

prepare_data records per clip the audio encoder (name + hash of its files, as
playmate_core.motion.playmate.checkpoint.audio_encoder_fingerprint) and the hash of the face engine's
motion extractor, whose output the motion files are. The stages copy the dataset's provenance into
every checkpoint; stage 2 refuses a dataset whose encoder differs from its stage 1's, and any stage
given --face-weights refuses a dataset prepared with other face weights.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from playmate_core.motion.playmate.checkpoint import UNKNOWN, tensors_sha256

from .data import DatasetError, read_manifest


def manifest_sha256(root: str | Path) -> str:
    return hashlib.sha256((Path(root) / "manifest.jsonl").read_bytes()).hexdigest()


def _one(rows: list, key: str, root: Path, fix: str):
    values = {repr(r.get(key)) for r in rows if r.get(key) is not None}
    if len(values) > 1:
        raise DatasetError(f"'{root / 'manifest.jsonl'}' mixes clips prepared with different {key} values "
                           f"({sorted(values)[:3]}); {fix}")
    return next((r[key] for r in rows if r.get(key) is not None), None)


def dataset_provenance(root: str | Path) -> dict:
    root = Path(root)
    rows = read_manifest(root)
    fix = "prepare every clip with the same --audio-encoder and --liveportrait (re-run prepare_data into a new --out)"
    encoder = _one(rows, "audio_encoder", root, fix) or {"name": UNKNOWN, "sha256": UNKNOWN}
    face = _one(rows, "face_motion_sha256", root, fix) or UNKNOWN
    return {"path": str(root.resolve()), "manifest_sha256": manifest_sha256(root), "audio_encoder": encoder,
            "face_motion_sha256": face}


def face_weights_fingerprint(folder: str | Path) -> str:
    """sha256 of the motion extractor's tensors in a LivePortrait weights folder (either public layout)."""
    from playmate_core.face.weights import locate
    from playmate_core.loading import read_state_dict
    file = locate(folder).files["motion_extractor"]
    return tensors_sha256(dict(read_state_dict(file, "motion_extractor")))


def check_face_weights(dataset: dict, folder: str | Path | None) -> None:
    """Refuse a dataset whose motion was extracted with other face weights than `folder` (when given)."""
    if not folder:
        return
    wanted = face_weights_fingerprint(folder)
    have = dataset["face_motion_sha256"]
    if have == UNKNOWN:
        raise DatasetError(f"the dataset '{dataset['path']}' does not record its face weights (prepared before "
                           f"prepare_data recorded them), so it cannot be checked against --face-weights '{folder}'; "
                           f"re-prepare it: python -m trainer.prepare_data --liveportrait {folder} ...")
    if have != wanted:
        raise DatasetError(f"the dataset '{dataset['path']}' was prepared with face weights whose motion extractor "
                           f"is {have[:12]}, but --face-weights '{folder}' has {wanted[:12]}: its motion would not "
                           f"match what this face engine extracts and renders. Re-prepare the data with these "
                           f"weights (python -m trainer.prepare_data --liveportrait {folder} --out NEW_FOLDER ...) "
                           f"and train on NEW_FOLDER")
