"""Write tiny RANDOM (untrained) Playmate models in ComfyUI's models-folder layout, through the real
save paths, so the nodes, the e2e tests and a no-weights demo run without downloading anything.

    MODELS/liveportrait/<5 slots>.safetensors + playmate_face_config.json        (tiny face engine)
    MODELS/liveportrait/animal/<4 base slots>.safetensors + config                 (stitching: parent's)
    MODELS/audio_encoders/wav2vec2-tiny-random/{config.json, model.safetensors, preprocessor_config.json}
    MODELS/playmate/playmate-motion-tiny-untrained.safetensors                     (stage 1, tiny preset)
    MODELS/playmate/playmate-emotion-tiny-untrained.safetensors                    (stage-2 emotion part)

Everything is random: rendered faces are noise and the motion is not speech-driven (the motion files
say so in their metadata, and Playmate warns "UNTRAINED"). Deterministic for a given seed.

    python tools/make_demo_models.py --models-dir ComfyUI/models [--seed 0]
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):                      # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from playmate_core.audio.encoder import build_random_encoder  # noqa: E402
from playmate_core.face.config import FaceEngineConfig  # noqa: E402
from playmate_core.face.engine import build_face_modules  # noqa: E402
from playmate_core.face.weights import BASE_SLOTS, SLOTS, read_face_config, save_weights  # noqa: E402
from playmate_core.motion import build_motion_model, save_motion_checkpoint  # noqa: E402

log = logging.getLogger("playmate")

AUDIO_ENCODER_NAME = "wav2vec2-tiny-random"
MOTION_FILE = "playmate-motion-tiny-untrained.safetensors"
JOYVASA_FILE = "joyvasa-tiny-random.pt"                  # JoyVASA's released layout, tiny and random
JOYVASA_TEMPLATE = "motion_template.pkl"
JOYVASA_ENCODER_NAME = "hubert-tiny-random"             # config.json only: the weights live in the .pt
EMOTION_FILE = "playmate-emotion-tiny-untrained.safetensors"
FILE_MODE = 0o644
DEMO_TRAINING_NOTE = {"note": "random initialisation written by tools/make_demo_models.py; not trained"}


def _refuse_real_weights(folder: Path) -> None:
    """Never overwrite real LivePortrait weights: a folder with slot files but no tiny config is real."""
    for sub in (folder, folder / "animal"):
        present = [s for s in SLOTS if (sub / f"{s}.safetensors").is_file()]
        if present and read_face_config(sub) != FaceEngineConfig.tiny():
            raise FileExistsError(f"'{sub}' already holds LivePortrait weights ({present[0]}.safetensors, ...) that "
                                  f"are not demo models; writing the random demo models there would replace them. "
                                  f"Use another --models-dir, or pass --force (force=True) to overwrite")


def _face_models(folder: Path, seed: int) -> dict:
    """Human set (5 slots) in folder, animal set (4 base slots) in folder/animal. -> {name: path}."""
    cfg = FaceEngineConfig.tiny()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        human = build_face_modules(cfg)
        torch.manual_seed(seed + 1)
        animal = {k: v for k, v in build_face_modules(cfg).items() if k in BASE_SLOTS}
    files = save_weights(human, folder, "safetensors", config=cfg).files
    animal_files = save_weights(animal, folder / "animal", "safetensors", config=cfg).files
    return {**{f"liveportrait/{k}": v for k, v in files.items()},
            **{f"liveportrait/animal/{k}": v for k, v in animal_files.items()}}


def _audio_encoder(folder: Path, seed: int) -> tuple[Path, object]:
    """A tiny random wav2vec2 saved as a Hugging Face folder (what AudioEncoder.from_pretrained reads)."""
    from transformers import Wav2Vec2FeatureExtractor
    model = build_random_encoder("tiny", seed=seed)
    model.save_pretrained(str(folder), safe_serialization=True)
    # wav2vec2-base-960h's preprocessing (AudioEncoder does the same z-normalisation itself)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(str(folder))
    return folder, model.config


def _motion_models(folder: Path, seed: int, audio_layers: int, audio_dim: int) -> tuple[Path, Path]:
    """Stage-1 and emotion checkpoints of one tiny untrained model whose audio input matches the encoder."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_motion_model("tiny", emotion=True)
    cfg = model.config
    if (cfg.audio_layers, cfg.audio_dim) != (audio_layers, audio_dim):
        raise RuntimeError(f"the tiny motion preset expects audio features ({cfg.audio_layers}, {cfg.audio_dim}) "
                           f"but the tiny encoder gives ({audio_layers}, {audio_dim}); align the two presets")
    folder.mkdir(parents=True, exist_ok=True)
    stage1 = save_motion_checkpoint(folder / MOTION_FILE, model, part="stage1", trained=False,
                                    training=DEMO_TRAINING_NOTE)
    emotion = save_motion_checkpoint(folder / EMOTION_FILE, model, part="emotion", trained=False,
                                     training=DEMO_TRAINING_NOTE)
    return stage1, emotion


def _joyvasa_models(root: Path, seed: int) -> dict:
    """A tiny random JoyVASA motion generator in the RELEASED layout ({args, model, iter} .pt, marked
    untrained in its args), its motion_template.pkl, and the HuBERT config folder it names."""
    from transformers import HubertConfig
    from playmate_core.motion.joyvasa.export import (TINY_HUBERT, TINY_JOYVASA, build_random_joyvasa, released_args,
                                              released_state, save_template_pickle)
    with torch.random.fork_rng(devices=[]):
        model = build_random_joyvasa(TINY_JOYVASA, TINY_HUBERT, seed=seed)
    folder = root / "playmate"
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / JOYVASA_FILE
    torch.save({"args": released_args(model.cfg, playmate_untrained=True), "model": released_state(model),
                "iter": 0}, str(ckpt))
    template = save_template_pickle(model.template, folder / JOYVASA_TEMPLATE)
    encoder = root / "audio_encoders" / JOYVASA_ENCODER_NAME
    HubertConfig(**TINY_HUBERT).save_pretrained(str(encoder))
    return {"joyvasa": ckpt, "joyvasa_template": template, "joyvasa_encoder": encoder}


def _publish_modes(paths: dict) -> None:
    """safetensors writes owner-only (0600) files; make the demo files readable like the JSON beside them."""
    for path in paths.values():
        for file in (path.iterdir() if path.is_dir() else [path]):
            if file.is_file():
                file.chmod(FILE_MODE)


def write_demo_models(models_dir: str | Path, seed: int = 0, force: bool = False, keep_real: bool = False) -> dict:
    """Write every demo model under `models_dir` (ComfyUI's models folder). Returns {name: path}:
    'liveportrait' (folder), 'liveportrait/<slot>' and 'liveportrait/animal/<slot>' (files),
    'audio_encoder' (folder), 'motion' and 'emotion' (files). Earlier demo files are overwritten;
    real LivePortrait weights are not (FileExistsError) unless force=True; keep_real=True leaves them
    in place and writes the other demo models only (the main job uses real weights when present)."""
    root = Path(models_dir)
    paths = {"liveportrait": root / "liveportrait"}
    try:
        if not force:
            _refuse_real_weights(root / "liveportrait")
        paths.update(_face_models(root / "liveportrait", seed))
    except FileExistsError:
        if not keep_real:
            raise
        log.info("keeping the real LivePortrait weights in %s", root / "liveportrait")
    encoder, enc_cfg = _audio_encoder(root / "audio_encoders" / AUDIO_ENCODER_NAME, seed)
    stage1, emotion = _motion_models(root / "playmate", seed, enc_cfg.num_hidden_layers, enc_cfg.hidden_size)
    paths.update(audio_encoder=encoder, motion=stage1, emotion=emotion, **_joyvasa_models(root, seed))
    _publish_modes({k: v for k, v in paths.items() if k != "liveportrait"})
    log.info("demo models (tiny, random, UNTRAINED) written to %s", root)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", required=True, type=Path, help="ComfyUI's models folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every model (default 0)")
    parser.add_argument("--force", action="store_true", help="overwrite real LivePortrait weights in the folder")
    parser.add_argument("--keep-real", action="store_true",
                        help="leave real LivePortrait weights in place (write the other demo models only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name, path in write_demo_models(args.models_dir, args.seed, args.force, args.keep_real).items():
        if "/" not in name:
            log.info("%-14s %s", name, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
