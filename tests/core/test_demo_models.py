"""tools/make_demo_models.py: tiny random models written through the real save paths load through the real
loaders, and drive the whole pipeline (crop -> F/M -> audio -> motion -> render -> mp4) on a real face."""
import importlib.util
import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from playmate_core import FaceEngineConfig, load_face_engine, load_motion_model
from playmate_core.audio.encoder import AudioEncoder
from playmate_core.face.config import FACE_CONFIG_FILENAME
from playmate_core.motion import generate_motion
from playmate_core.pipeline import draw_motion_preview, prepare_source, render_frames, write_video

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")
SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "make_demo_models.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("make_demo_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return root, load_tool().write_demo_models(root, seed=0)


def test_layout_matches_comfyui_folders(demo):
    root, paths = demo
    lp = root / "liveportrait"
    assert paths["liveportrait"] == lp and (lp / FACE_CONFIG_FILENAME).is_file()
    assert sorted(p.name for p in lp.glob("*.safetensors")) == sorted(
        f"{s}.safetensors" for s in ("appearance_feature_extractor", "motion_extractor", "warping_module",
                                     "spade_generator", "stitching_retargeting_module"))
    assert len(list((lp / "animal").glob("*.safetensors"))) == 4                  # stitching from the parent
    enc = root / "audio_encoders" / "wav2vec2-tiny-random"
    assert paths["audio_encoder"] == enc and {"config.json", "model.safetensors"} <= {p.name for p in enc.iterdir()}
    assert paths["motion"] == root / "playmate" / "playmate-motion-tiny-untrained.safetensors"
    assert paths["emotion"] == root / "playmate" / "playmate-emotion-tiny-untrained.safetensors"
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in root.rglob("*") if p.is_file())


def test_all_models_load_through_the_real_loaders(demo):
    root, paths = demo
    assert load_face_engine(root / "liveportrait").cfg == FaceEngineConfig.tiny()
    assert load_face_engine(root / "liveportrait", animal=True).cfg == FaceEngineConfig.tiny()
    model = load_motion_model([paths["motion"], paths["emotion"]])
    assert model.has_emotion and not model.trained
    encoder = AudioEncoder.from_pretrained(paths["audio_encoder"])
    assert (encoder.num_layers, encoder.hidden_size) == (model.config.audio_layers, model.config.audio_dim)


def test_refuses_to_overwrite_real_weights(tmp_path):
    lp = tmp_path / "liveportrait"
    lp.mkdir()
    (lp / "warping_module.safetensors").write_bytes(b"real weights")
    with pytest.raises(FileExistsError, match="--force"):
        load_tool().write_demo_models(tmp_path)
    assert (lp / "warping_module.safetensors").read_bytes() == b"real weights"
    paths = load_tool().write_demo_models(tmp_path, keep_real=True)      # the main job: keep them, write the rest
    assert (lp / "warping_module.safetensors").read_bytes() == b"real weights"
    assert "liveportrait/warping_module" not in paths and paths["motion"].is_file()


def test_end_to_end_on_a_real_face(demo, tmp_path):
    pytest.importorskip("mediapipe")
    from playmate_core.crop import FaceCropper
    root, paths = demo
    engine = load_face_engine(root / "liveportrait")
    encoder = AudioEncoder.from_pretrained(paths["audio_encoder"])
    model = load_motion_model([paths["motion"], paths["emotion"]])
    cropper = FaceCropper(backend="mediapipe")
    try:
        source = prepare_source(engine, cropper, astronaut())
    finally:
        cropper.close()
    sr, fps = 16000, 3.0
    t = torch.arange(sr) / sr
    wave = (torch.sin(2 * math.pi * 180 * t) * torch.sin(2 * math.pi * 2 * t).abs() * 0.3)[None]   # 1 s, (1,S)
    seq = generate_motion(model, wave, sr, source_motion=source.motion, encoder=encoder, emotion="happy",
                          intensity=2, steps=2, fps=fps)
    assert len(seq) == math.ceil(1.0 * fps) and not seq.trained and seq.origin == "audio"
    assert draw_motion_preview(seq).shape == (540, 960, 3)
    info = write_video(tmp_path / "demo.mp4", render_frames(engine, source, seq), fps, audio=(wave, sr))
    assert info["frames"] == len(seq) and (info["height"], info["width"]) == (512, 512)
    with av.open(str(tmp_path / "demo.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.audio[0].codec_context.name == "aac"
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == len(seq) and decoded[0].shape == (512, 512, 3)
    assert np.abs(decoded[0].astype(int) - astronaut().astype(int)).mean() < 60   # the background survives
