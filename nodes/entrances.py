"""Every entrance from a prompt, checked: names resolve inside their folders, combos hold listed values,
media and files stay within bounds. Part of the runtime adapter (nodes/runtime.py re-exports it).

    name (a model slot, Load Motion's file: input/ or '<name> [output]') --resolve_* / check_name--> a path
                                            inside that slot's folders,
                                            or ONE refusal naming the slot and the folders searched
    combo value --check_combos (validate_inputs)--> True, or the valid values (HTTP 400 at submission)
    AUDIO --checked_audio--> rate / duration / finite checked, louder than full scale scaled (same dict out)
    IMAGE --batch_image--> uint8 frames, those above the pixel limit downscaled
    settings (environment): PLAYMATE_MAX_AUDIO_SECONDS, PLAYMATE_MAX_IMAGE_PIXELS (README, Security and limits)

A name is accepted only when it is one of the entries ComfyUI's folder_paths lists for the slot (what
the node's combo shows), so '../', absolute paths and names that exist elsewhere are refused the same
way, and a refusal never says whether something exists outside the model folders. Symlinks that an
administrator placed inside a model folder are listed, so they keep working.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import folder_paths

from ..playmate_core.audio.bounds import DEFAULT_MAX_SECONDS, check_audio
from ..playmate_core.crop.images import DEFAULT_MAX_PIXELS, batch_to_uint8
from ..playmate_core.face import weights as lpw
from ..playmate_core.motion.backend import is_checkpoint_name, is_emotion_checkpoint_name
from ..playmate_core.pipeline.atomic import sweep_partials

log = logging.getLogger("playmate")

FOLDERS = ("liveportrait", "playmate", "audio_encoders", "insightface")
LIVEPORTRAIT_SETS = ("human", "animal")
NONE = "none"
DEFAULT_ENCODER = "wav2vec2-base-960h"
SETTINGS = {"PLAYMATE_MAX_AUDIO_SECONDS": DEFAULT_MAX_SECONDS, "PLAYMATE_MAX_IMAGE_PIXELS": DEFAULT_MAX_PIXELS}


def setting(name: str) -> float:
    """A documented limit from the environment (SETTINGS holds the defaults); a bad value is refused."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return SETTINGS[name]
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"the setting {name}={raw!r} is not a positive number; fix or unset it and restart ComfyUI")
    return value


# ---- folders ---------------------------------------------------------------------------------------
def register_folders() -> None:
    """models/liveportrait, models/playmate, models/insightface (audio_encoders is ComfyUI's own); sweep
    the partial files a crash (kill -9) may have left in the output folder."""
    for name in FOLDERS:
        folder_paths.add_model_folder_path(name, os.path.join(folder_paths.models_dir, name))
    gone = sweep_partials(folder_paths.get_output_directory())
    if gone:
        log.warning("Playmate removed %d partial file(s) left in the output folder by an interrupted run", len(gone))


def folder_roots(name: str) -> list:
    try:
        return [Path(p) for p in folder_paths.get_folder_paths(name)]
    except KeyError:
        return [Path(folder_paths.models_dir) / name]


def _label(folder: Path) -> str:
    """A folder as the user knows it: relative to ComfyUI's base folder when inside it."""
    try:
        return Path(os.path.relpath(folder, folder_paths.base_path)).as_posix() \
            if Path(folder).resolve().is_relative_to(Path(folder_paths.base_path).resolve()) else str(folder)
    except ValueError:
        return str(folder)


def check_name(slot: str, name, choices: list, folders: list) -> None:
    """Refuse `name` unless it is one of `choices` (the entries listed for the slot), with one message."""
    if isinstance(name, str) and name in choices:
        return
    shown = name if isinstance(name, str) and len(name) <= 120 else f"{str(name)[:120]}..."
    listed = ", ".join(choices[:12]) + (f" (and {len(choices) - 12} more)" if len(choices) > 12 else "")
    raise ValueError(f"{slot} '{shown}' is not one of the entries listed for it (searched "
                     f"{', '.join(_label(f) for f in folders)}). Choose one of: {listed}. New files go into those "
                     f"folders; then refresh the node list (R).")


def liveportrait_choices() -> list:
    """"human" and "animal" always (a shared workflow validates everywhere; a missing set fails at
    run time with the expected paths), then every sub-folder of models/liveportrait that holds a set."""
    found = list(LIVEPORTRAIT_SETS)
    for root in folder_roots("liveportrait"):
        if not root.is_dir():
            continue
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in ("animal", "liveportrait_animals")):
            try:
                lpw.locate(sub)
            except (FileNotFoundError, ValueError):
                continue
            if sub.name not in found:
                found.append(sub.name)
    return found


def resolve_liveportrait(choice: str) -> tuple:
    """Choice -> (folder, animal). The first root that holds the set wins; else the first root
    (so the error lists the expected paths there)."""
    check_name("liveportrait", choice, liveportrait_choices(), folder_roots("liveportrait"))
    animal = choice == "animal"
    roots = folder_roots("liveportrait")
    candidates = roots if choice in LIVEPORTRAIT_SETS else [r / choice for r in roots]
    for folder in candidates:
        try:
            lpw.locate(folder, animal=animal)
            return folder, animal
        except (FileNotFoundError, ValueError):
            continue
    return candidates[0], animal


def motion_choices() -> list:
    """Files in models/playmate that some motion backend loads (the core decides; companions excluded)."""
    files = [f for f in folder_paths.get_filename_list("playmate") if is_checkpoint_name(f)]
    return sorted(files) + [NONE]


def emotion_choices() -> list:
    return [NONE] + [f for f in motion_choices() if is_emotion_checkpoint_name(f)]


def resolve_model_file(name: str, slot: str = "motion_model") -> Path | None:
    """A motion_model / emotion_model entry -> its file in models/playmate (None for 'none')."""
    check_name(slot, name, motion_choices() if slot == "motion_model" else emotion_choices(), folder_roots("playmate"))
    if name == NONE:
        return None
    path = folder_paths.get_full_path("playmate", name)
    if path is None:                                       # listed a moment ago, gone now
        raise FileNotFoundError(f"{slot} '{name}' was removed from models/playmate; refresh the node list (R)")
    return Path(path)


def _encoder_folders() -> dict:
    """name -> folder: HF folders (config.json + weights) in models/audio_encoders and models/playmate."""
    found: dict = {}
    for key in ("audio_encoders", "playmate"):
        for root in folder_roots(key):
            if root.is_dir():
                for sub in sorted(root.iterdir()):
                    if (sub / "config.json").is_file() and sub.name not in found:
                        found[sub.name] = sub
    return found


def encoder_choices() -> list:
    return list(_encoder_folders()) or [DEFAULT_ENCODER]


def resolve_encoder(name: str) -> Path:
    """An audio_encoder entry -> its folder. The default name is accepted while nothing is installed, so
    a fresh install fails at load time with the files expected in models/audio_encoders."""
    found = _encoder_folders()
    check_name("audio_encoder", name, list(found) or [DEFAULT_ENCODER],
               folder_roots("audio_encoders") + folder_roots("playmate"))
    return found.get(name) or folder_roots("audio_encoders")[0] / name


# ---- input and output files -------------------------------------------------------------------------
OUTPUT_TAG = " [output]"          # how a file of the output folder is shown in a Load list (ComfyUI's own mark)


def _files_under(root: Path, suffix: str) -> list:
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob(f"*{suffix}") if p.is_file())


def input_files(suffix: str) -> list:
    """Files under ComfyUI's input folder (recursively) whose names end with `suffix`."""
    return _files_under(Path(folder_paths.get_input_directory()), suffix)


def resolve_input_file(name: str, suffix: str, slot: str = "file") -> Path:
    """A Load-node entry -> its path in the input folder; only names the node's list shows."""
    root = Path(folder_paths.get_input_directory())
    check_name(slot, name, input_files(suffix), [root])
    return root / name


def saved_files(suffix: str) -> list:
    """The input folder's files (plain relative names), then the output folder's, marked ' [output]', so
    what a Save node wrote can be loaded back without moving it."""
    out = _files_under(Path(folder_paths.get_output_directory()), suffix)
    return input_files(suffix) + [f"{n}{OUTPUT_TAG}" for n in out]


def resolve_saved_file(name: str, suffix: str, slot: str = "file") -> Path:
    """A saved_files entry -> its path; only listed entries (an input name ends with `suffix`, an output
    name with OUTPUT_TAG, so the two never mix)."""
    roots = [Path(folder_paths.get_input_directory()), Path(folder_paths.get_output_directory())]
    check_name(slot, name, saved_files(suffix), roots)
    if name.endswith(OUTPUT_TAG):
        return roots[1] / name[: -len(OUTPUT_TAG)]
    return roots[0] / name


def output_path(prefix: str, suffix: str, width: int = 0, height: int = 0) -> tuple:
    """A fresh numbered path in ComfyUI's output folder -> (full path, filename, subfolder).
    ComfyUI's get_save_image_path refuses a prefix that leaves the output folder."""
    full_dir, name, counter, subfolder, _ = folder_paths.get_save_image_path(
        prefix, folder_paths.get_output_directory(), width, height)
    filename = f"{name}_{counter:05}_{suffix}"
    return os.path.join(full_dir, filename), filename, subfolder


def staging_dir() -> Path:
    """Where partial files are written (ComfyUI's temp folder, emptied when ComfyUI starts)."""
    return Path(folder_paths.get_temp_directory()) / "playmate-partial"


# ---- widgets and media -------------------------------------------------------------------------------
def check_combos(node_cls, **values) -> bool | str:
    """validate_inputs helper: every combo value given must be one of its listed options (ComfyUI 0.3.75
    does not check V3 combos). Returns True or the message (ComfyUI answers HTTP 400 with it)."""
    schema = node_cls.define_schema()
    options = {i.id: list(i.options) for i in schema.inputs if getattr(i, "options", None) is not None}
    for key, value in values.items():
        if value is None or key not in options or value in options[key]:
            continue
        shown = ", ".join(map(str, options[key][:12])) + (" ..." if len(options[key]) > 12 else "")
        return f"{schema.display_name}: {key} '{value}' is not one of the valid values: {shown}"
    return True


def checked_audio(audio: dict | None, what: str = "the audio input") -> dict | None:
    """A ComfyUI AUDIO dict with rate, duration and sample values checked (louder than full scale is
    scaled down, with a warning): the dict every Playmate node uses and passes on."""
    if audio is None:
        return None
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise ValueError(f"{what} is not an AUDIO value (a dict with waveform and sample_rate); connect Load Audio")
    checked = check_audio(audio["waveform"], audio["sample_rate"], max_seconds=setting("PLAYMATE_MAX_AUDIO_SECONDS"),
                          what=what)
    if checked.note:
        log.warning("Playmate: %s", checked.note)
    return {**audio, "waveform": checked.waveform, "sample_rate": checked.sample_rate}


def batch_image(images, what: str = "the image"):
    """ComfyUI IMAGE (B,H,W,C) float -> (B,H,W,3) uint8 numpy, frames above PLAYMATE_MAX_IMAGE_PIXELS
    downscaled to fit (with a warning), converted in row blocks (no full-size float copies)."""
    frames, note = batch_to_uint8(images, setting("PLAYMATE_MAX_IMAGE_PIXELS"), what)
    if note:
        log.warning("Playmate: %s", note)
    return frames
