"""The automatic model choice of Playmate Load Models: which motion model, emotion module and audio encoder.

    files = [read_motion_file(name, path) for name, path in listed]        # cheap: headers, no weights
    encoders = [read_encoder(name, folder) for name, folder in folders]
    choice = choose(files, encoders, motion="auto", emotion="auto", encoder="auto", may_download=True)
    choice.motion, choice.emotion, choice.encoder, choice.kind, choice.source, choice.notes, choice.downloads

`auto` motion, best first: a TRAINED Playmate stage-1 checkpoint (its metadata says stage1_trained) >
the public JoyVASA model (a released-layout .pt with motion_template.pkl beside it, not marked untrained)
> demo / untrained files (Playmate first, then JoyVASA) > nothing installed: download JoyVASA
(`downloads`, only when `may_download`), else nothing (the caller fails with the list of files).
Anything installed wins over the network: a download is only planned when no motion file is usable.
`auto` emotion: an emotion module trained on the chosen Playmate stage 1 (matched by its fingerprint,
`emotion_stage1_sha256` == `stage1_sha256`), trained ones first; none otherwise (JoyVASA has none).
`auto` encoder: for Playmate, a folder whose geometry (layers, width) fits the checkpoint, the one named in
its provenance first, then wav2vec2-base-960h; for JoyVASA, a HuBERT config folder (chinese-hubert-base
first for trained JoyVASA). Explicit names are kept as given (the caller's name gate checks them).
Decisions are pure functions of the facts read here, so they are unit-tested without ComfyUI.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

AUTO = "auto"
JOYVASA_PUBLIC = "motion_generator_hubert_chinese.pt"
JOYVASA_TEMPLATE = "motion_template.pkl"
HUBERT_PUBLIC = "chinese-hubert-base"
WAV2VEC2_PUBLIC = "wav2vec2-base-960h"
WAV2VEC2_GEOMETRY = (12, 768)                      # (layers, width) of wav2vec2-base-960h's features
UNTRAINED_MARK = b"playmate_untrained"             # in the args of the demo JoyVASA files (export.py)
_NAMES = {"joyvasa": "JoyVASA", "playmate": "Playmate"}
_MEMO_OPS = {b"\x94": 1, b"q": 2, b"r": 5}          # pickle MEMOIZE, BINPUT, LONG_BINPUT: opcode + argument


@dataclass(frozen=True)
class MotionFile:
    """What the choice needs to know about one file listed in models/playmate."""
    name: str                          # the entry as the motion_model list shows it
    kind: str                          # "playmate" | "joyvasa"
    trained: bool                      # stage 1 trained (Playmate) / not a demo (JoyVASA)
    stage1: str | None = None          # Playmate: fingerprint of the stage 1 it holds (None: no stage-1 part)
    emotion_on: str | None = None      # Playmate: fingerprint of the stage 1 its emotion part was trained on
    emotion_trained: bool = False
    encoder_name: str | None = None    # Playmate provenance: the encoder folder it was trained with
    audio: tuple | None = None         # Playmate: (layers, width) of the audio features it takes
    template: bool = True              # JoyVASA: motion_template.pkl beside it


@dataclass(frozen=True)
class EncoderFolder:
    name: str                          # the entry as the audio_encoder list shows it
    model_type: str                    # config.json model_type: "wav2vec2", "hubert", ...
    audio: tuple | None = None         # (num_hidden_layers, hidden_size)
    weights: bool = True               # a weights file is present (a HuBERT config alone serves JoyVASA)


@dataclass(frozen=True)
class Choice:
    motion: str | None
    emotion: str | None
    encoder: str | None
    kind: str | None                   # "playmate" | "joyvasa" | None (no motion model)
    source: str                        # "trained" | "public" | "demo" | "chosen" | "download" | "none"
    notes: tuple = ()                  # sentences for the user (shown on the node)
    downloads: tuple = ()              # model_files bundle names to fetch before loading

    @property
    def untrained(self) -> bool:
        return self.source == "demo"


# ---- facts (cheap reads: safetensors headers, the .pt's pickle index; no weights) -------------------------
def read_motion_file(name: str, path: str | Path) -> MotionFile | None:
    """A motion/emotion candidate, or None for a file no backend loads."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return _read_playmate(name, path)
    if path.suffix in (".pt", ".pth"):
        from .motion.joyvasa.checkpoint import looks_like_joyvasa
        if not looks_like_joyvasa(path):
            return None
        return MotionFile(name, "joyvasa", trained=not _marked_untrained(path),
                          template=(path.parent / JOYVASA_TEMPLATE).is_file())
    return None


def _read_playmate(name: str, path: Path) -> MotionFile | None:
    try:
        from safetensors import safe_open
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
        if meta.get("playmate_format") != "motion":
            return None
        parts = json.loads(meta.get("parts", "[]"))
        audio = json.loads(meta.get("audio", "{}"))
        provenance = json.loads(meta.get("provenance", "{}"))
    except Exception:                                  # unreadable: the loader reports it if chosen
        return None
    encoder = ((provenance.get("audio_encoder") or {}).get("name") or "").split(" (")[0] or None
    return MotionFile(name, "playmate", trained="stage1" in parts and meta.get("stage1_trained") == "true",
                      stage1=meta.get("stage1_sha256") if "stage1" in parts else None,
                      emotion_on=meta.get("emotion_stage1_sha256") if "emotion" in parts else None,
                      emotion_trained=meta.get("emotion_trained") == "true", encoder_name=encoder,
                      audio=(audio["layers"], audio["dim"]) if {"layers", "dim"} <= set(audio) else None)


def _marked_untrained(path: Path) -> bool:
    """The demo JoyVASA files carry `playmate_untrained=True` in their pickled args (never the release)."""
    try:
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            head = z.read(name) if name else b""
    except (OSError, zipfile.BadZipFile, KeyError):
        return False
    at = head.find(UNTRAINED_MARK)
    if at < 0:
        return False
    i = at + len(UNTRAINED_MARK)
    while i < len(head) and head[i:i + 1] in _MEMO_OPS:           # the memo opcode after the key string
        i += _MEMO_OPS[head[i:i + 1]]
    return head[i:i + 1] == b"\x88"                              # NEWTRUE: the value is True


def read_encoder(name: str, folder: str | Path) -> EncoderFolder | None:
    folder = Path(folder)
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    weights = any((folder / n).is_file() for n in ("model.safetensors", "pytorch_model.bin",
                                                    "model.safetensors.index.json", "pytorch_model.bin.index.json"))
    layers, width = cfg.get("num_hidden_layers"), cfg.get("hidden_size")
    return EncoderFolder(name, str(cfg.get("model_type", "?")),
                         (layers, width) if layers and width else None, weights)


# ---- the decision -------------------------------------------------------------------------------------------
def choose(files: list, encoders: list, motion: str = AUTO, emotion: str = AUTO, encoder: str = AUTO,
           may_download: bool = False) -> Choice:
    """The motion model, emotion module and encoder to load (see the module docstring)."""
    files = sorted((f for f in files if f is not None), key=lambda f: f.name)
    encoders = sorted((e for e in encoders if e is not None), key=lambda e: e.name)
    if motion == "none":
        return Choice(None, None if emotion == AUTO else emotion, None if encoder == AUTO else encoder, None, "chosen")
    if motion != AUTO:
        pick = next((f for f in files if f.name == motion), None)
        source, notes = "chosen", []
    else:
        pick, source, notes = _auto_motion(files)
        if pick is None:
            return _nothing_installed(encoder, emotion, may_download)
    kind = pick.kind if pick else None
    emo, emo_notes = _auto_emotion(pick, files) if emotion == AUTO else (emotion, [])
    enc, enc_notes, downloads = (_auto_encoder(pick, encoders, may_download) if encoder == AUTO
                                 else (encoder, [], ()))
    return Choice(pick.name if pick else motion, emo, enc, kind, source, tuple(notes + emo_notes + enc_notes),
                  downloads)


def _auto_motion(files: list) -> tuple:
    usable_joy = [f for f in files if f.kind == "joyvasa" and f.template]
    ranked = (("trained", [f for f in files if f.kind == "playmate" and f.stage1 and f.trained]),
              ("public", sorted((f for f in usable_joy if f.trained), key=lambda f: f.name != JOYVASA_PUBLIC)),
              ("demo", [f for f in files if f.kind == "playmate" and f.stage1 and not f.trained]
               + [f for f in usable_joy if not f.trained]))
    for source, found in ranked:
        if found:
            pick = found[0]
            what = {"trained": "a trained Playmate motion model",
                    "public": "the public JoyVASA motion model (no trained Playmate checkpoint is installed)",
                    "demo": "an UNTRAINED demo motion model: the motion is random, not speech-driven"}[source]
            more = f" ({len(found) - 1} other candidate(s): choose one by name to change)" if len(found) > 1 else ""
            return pick, source, [f"motion_model auto chose {pick.name}: {what}{more}."]
    return None, "none", []


def _nothing_installed(encoder: str, emotion: str, may_download: bool) -> Choice:
    enc = HUBERT_PUBLIC if encoder == AUTO else encoder
    emo = None if emotion == AUTO else emotion
    if may_download:
        return Choice(JOYVASA_PUBLIC, emo, enc, "joyvasa", "download",
                      (f"motion_model auto: no motion model is installed; downloading the public JoyVASA model "
                       f"({JOYVASA_PUBLIC}) and its encoder config.",), ("joyvasa",))
    return Choice(None, emo, enc, None, "none", ("no motion model is installed.",), ("joyvasa",))


def _auto_emotion(pick: MotionFile | None, files: list) -> tuple:
    if pick is None:
        return None, []
    if pick.kind != "playmate":
        return None, [f"emotion: {_NAMES.get(pick.kind, pick.kind)} has no emotion control; leave emotion at "
                      f"'none' in Audio To Motion."]
    if pick.stage1 is None or pick.emotion_on is not None:     # its own emotion part (or no fingerprint)
        return None, []
    matching = sorted((f for f in files if f.kind == "playmate" and f.emotion_on == pick.stage1
                       and f.name != pick.name), key=lambda f: (not f.emotion_trained, f.name))
    if not matching:
        return None, ["emotion_model auto: no emotion module trained on this motion model is installed; emotion "
                      "control is off."]
    found = matching[0]
    state = "" if found.emotion_trained else " (UNTRAINED demo module)"
    return found.name, [f"emotion_model auto chose {found.name}{state}, trained on this motion model."]


def _auto_encoder(pick: MotionFile | None, encoders: list, may_download: bool) -> tuple:
    """-> (encoder name or None, notes, downloads)."""
    if pick is None:
        return None, [], ()
    if pick.kind == "joyvasa":
        hubert = sorted((e for e in encoders if e.model_type == "hubert"),
                        key=lambda e: (e.name != HUBERT_PUBLIC) if pick.trained else (e.name == HUBERT_PUBLIC))
        if hubert:
            return hubert[0].name, [], ()
        if may_download and pick.trained:
            return HUBERT_PUBLIC, [], (HUBERT_PUBLIC,)
        return None, ["audio_encoder auto: no HuBERT config folder is installed; JoyVASA's encoder geometry is read "
                      "from its checkpoint."], ()
    fits = [e for e in encoders if e.weights and (pick.audio is None or e.audio == pick.audio)]
    fits.sort(key=lambda e: (e.name != pick.encoder_name, e.name != WAV2VEC2_PUBLIC, e.name))
    if fits:
        return fits[0].name, [], ()
    wanted = pick.encoder_name or WAV2VEC2_PUBLIC
    if wanted == WAV2VEC2_PUBLIC and pick.audio in (None, WAV2VEC2_GEOMETRY):
        return WAV2VEC2_PUBLIC, [], ("wav2vec2-base-960h",)
    return wanted, [f"audio_encoder auto: no installed encoder fits {pick.name}; it was trained with '{wanted}'."], ()
