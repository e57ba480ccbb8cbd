"""Playmate Load Models' choices, first-use downloads and what the user is told (part of the runtime adapter).

    options: "auto" first for motion_model / emotion_model / audio_encoder, then what the folders hold
    validate: "auto" always passes; every other value goes through the name gate (entrances.resolve_*),
              and a public file that is not installed is refused with how to get it
    settle_models(...) -> Settled: the files to load (auto decided by playmate_core.model_choice over the
              installed files), after downloading what is missing when download = "if missing" and nothing
              usable is installed (never otherwise), or ONE error listing files, URLs, folders and the option
    say(text): progress text on the running node (the web UI shows it on the node), and the log
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import comfy.model_management as mm
import comfy.utils

from ..playmate_core import model_choice, model_files
from ..playmate_core.face import weights as lpw
from ..playmate_core.face.config import FaceEngineConfig
from ..playmate_core.model_choice import AUTO
from .entrances import (NONE, emotion_choices, encoder_choices, folder_roots, motion_choices, resolve_encoder,
                        resolve_liveportrait, resolve_model_file)

log = logging.getLogger("playmate")

DOWNLOAD_CHOICES = ("if missing", "never")
DOWNLOAD_DEFAULT = "if missing"
TURN_ON = "Set download to 'if missing' on Playmate Load Models (needs network access), or put the files there by hand."
PUBLIC = {"motion_model": {model_choice.JOYVASA_PUBLIC: "joyvasa"},
          "audio_encoder": {model_choice.HUBERT_PUBLIC: "chinese-hubert-base",
                            model_choice.WAV2VEC2_PUBLIC: "wav2vec2-base-960h"}}


def motion_options() -> list:
    return [AUTO] + motion_choices()


def emotion_options() -> list:
    return [AUTO] + emotion_choices()


def encoder_options() -> list:
    return [AUTO] + encoder_choices()


def model_folders() -> dict:
    """model_files' folder keys -> the first ComfyUI folder of each (where downloads land)."""
    return {key: str(folder_roots(key)[0]) for key in ("liveportrait", "playmate", "audio_encoders")}


def check_name(slot: str, value, download: str | None = None) -> str | None:
    """The name gate for one non-auto value. A public file that is not installed: with download 'if missing'
    -> the bundle to fetch; with 'never' -> refused with how to get it. Returns None when nothing to fetch."""
    if value == AUTO:
        return None
    resolve = {"motion_model": lambda v: resolve_model_file(v, "motion_model"),
               "emotion_model": lambda v: resolve_model_file(v, "emotion_model"), "audio_encoder": resolve_encoder}
    try:
        resolve[slot](value)
    except ValueError:
        bundle = PUBLIC.get(slot, {}).get(value)
        if bundle is None:
            raise
        if (download or DOWNLOAD_DEFAULT) == "if missing":
            return bundle
        missing = model_files.missing_files([bundle], model_folders())
        raise ValueError(model_files.missing_message(
            missing, f"{slot} '{value}' is a public file that is not installed:",
            f"Set download to 'if missing' (or choose {slot} 'auto' with download 'if missing') on Load Playmate "
            f"Models to fetch them, or put them there by hand and refresh the node list (R).")) from None
    return None


@dataclass(frozen=True)
class Settled:
    liveportrait: Path
    animal: bool
    motion: Path | None
    emotion: Path | None
    encoder: Path | None
    choice: model_choice.Choice
    downloaded: tuple = ()                    # (path, licence) of the files fetched for this load


def _installed() -> tuple:
    files = [model_choice.read_motion_file(n, resolve_model_file(n, "motion_model")) for n in motion_choices()
             if n != NONE]
    encoders = []
    for name in encoder_choices():
        folder = resolve_encoder(name)
        if folder.is_dir():
            encoders.append(model_choice.read_encoder(name, folder))
    return files, encoders


def _liveportrait_missing(folder: Path, animal: bool, choice: str) -> list:
    try:
        lpw.locate(folder, animal=animal)
        return []
    except (FileNotFoundError, ValueError):
        return ["liveportrait"] if choice == "human" else []        # other sets: the loader's own error


def settle_models(liveportrait: str, motion: str, emotion: str, encoder: str, download: str | None) -> Settled:
    """Decide the files (auto), download what is missing when allowed, resolve every name through the gate."""
    download = download or DOWNLOAD_DEFAULT
    if download not in DOWNLOAD_CHOICES:
        raise ValueError(f"download '{download}' is not one of the valid values: {', '.join(DOWNLOAD_CHOICES)}")
    named = [check_name(slot, value, download) for slot, value in
             (("motion_model", motion), ("emotion_model", emotion), ("audio_encoder", encoder))]
    lp_folder, animal = resolve_liveportrait(liveportrait)
    may = download == "if missing"
    choice = model_choice.choose(*_installed(), motion=motion, emotion=emotion, encoder=encoder, may_download=may)
    bundles = (_liveportrait_missing(lp_folder, animal, liveportrait) + [b for b in named if b]
               + list(choice.downloads))
    missing = model_files.missing_files(dict.fromkeys(bundles), model_folders())
    fetched = ()
    if missing and not may:
        why = ("Playmate Load Models: nothing usable is installed and download is 'never'." if choice.source == "none"
               else "Playmate Load Models: download is 'never'.")
        raise FileNotFoundError(model_files.missing_message(missing, why, TURN_ON))
    if missing:                                  # nothing usable was installed: fetch, then decide again
        fetched = tuple(fetch_with_progress(missing))
        choice = model_choice.choose(*_installed(), motion=motion, emotion=emotion, encoder=encoder)
    if choice.motion is None and motion == AUTO:
        raise FileNotFoundError(model_files.missing_message(
            model_files.missing_files(["joyvasa"], model_folders()), "Playmate Load Models: no motion model is "
            "installed.", TURN_ON))
    return Settled(lp_folder, animal, resolve_model_file(choice.motion or NONE, "motion_model"),
                   resolve_model_file(choice.emotion or NONE, "emotion_model"),
                   resolve_encoder(choice.encoder) if choice.encoder and choice.motion else None, choice, fetched)


def fetch_with_progress(missing: list) -> list:
    """Download `missing` with a ComfyUI progress bar in bytes, progress text per file, Cancel between chunks."""
    state = {"bar": None, "label": ""}

    def on_file(i, n, remote, path):
        state["label"] = f"Downloading {i + 1}/{n}: {remote.repo_id}/{remote.candidates[0]} -> {path}"
        log.info("Playmate: %s (licence: %s)", state["label"], remote.licence)
        say(state["label"])
        state["bar"] = None

    def progress(done, total):
        if state["bar"] is None or state.get("total") != total:
            state["bar"], state["total"] = comfy.utils.ProgressBar(total), total
        state["bar"].update_absolute(done, total)
        say(f"{state['label']}\n{done / 1e6:.1f} / {total / 1e6:.1f} MB")

    t0 = time.perf_counter()
    try:
        done = model_files.fetch_missing(missing, progress=progress, check=mm.throw_exception_if_processing_interrupted,
                                         on_file=on_file)
        size = sum(p.stat().st_size for p, _ in done)
        log.info("Playmate downloaded %d file(s), %.1f MB, in %.1f s", len(done), size / 1e6, time.perf_counter() - t0)
        return done
    except model_files.DownloadError as exc:
        still = [(f, path) for f, path in missing if not path.is_file()]
        raise FileNotFoundError(model_files.missing_message(
            still, f"Playmate Load Models: the download failed ({exc}).",
            "Check the network (or HF_ENDPOINT), or put the files there by hand; download 'if missing' resumes "
            "with the files still missing.")) from exc


def describe(settled: Settled, caps, warnings: tuple, lp_config) -> str:
    """What the user got, in a few lines (shown on the node and returned as the info output)."""
    c = settled.choice
    lines = []
    if settled.motion is not None:
        state = "trained" if caps is None or caps.trained else "UNTRAINED: random motion, not speech-driven"
        kind = {"joyvasa": "JoyVASA", "playmate": "Playmate"}.get(caps.kind if caps else c.kind, "?")
        how = {"chosen": "chosen by name", "download": "downloaded", "none": ""}.get(c.source, "chosen by auto")
        lines.append(f"Motion: {kind} backend, {settled.motion.name} ({state}; {how})")
        lines.append(f"Emotion: {settled.emotion.name if settled.emotion else 'none'}"
                     + ("" if caps is None or caps.emotion else " (this backend has no emotion control)"))
        lines.append(f"Audio encoder: {settled.encoder.name if settled.encoder else 'none'}")
    else:
        lines.append("Motion: none (pose / video re-targeting only)")
    demo_face = lp_config == FaceEngineConfig.tiny()
    lines.append(f"LivePortrait: {settled.liveportrait}"
                 + (" (tiny RANDOM demo weights: faces render as noise)" if demo_face else ""))
    if settled.downloaded:
        licences = sorted({lic.split(" (")[0] for _, lic in settled.downloaded})
        lines.append(f"Downloaded {len(settled.downloaded)} file(s), licence {', '.join(licences)} (each file's source "
                     f"and licence in the log): " + ", ".join(p.name for p, _ in settled.downloaded))
    warn = [*c.notes, *warnings]
    if demo_face or (caps is not None and not caps.trained):
        warn.insert(0, "WARNING: demo / untrained weights in use; the video is NOT a trained model's output.")
    return "\n".join(lines + [f"- {w}" for w in warn])


def say(text: str) -> None:
    """Progress text on the running node (shown on the node in the web UI); no-op outside a prompt."""
    try:
        from comfy_execution.utils import get_executing_context
        from server import PromptServer
        ctx = get_executing_context()
        if ctx is not None and PromptServer.instance is not None:
            PromptServer.instance.send_progress_text(text, ctx.node_id)
    except Exception:                              # older ComfyUI without progress text: the log has it
        log.debug("progress text not sent: %s", text)
