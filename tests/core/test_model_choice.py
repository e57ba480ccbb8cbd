"""Playmate Load Models' `auto`: trained Playmate > public JoyVASA > demo files > download (only when nothing
is installed and download is allowed); emotion by the stage-1 fingerprint; the encoder that fits."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from playmate_core.model_choice import (HUBERT_PUBLIC, JOYVASA_PUBLIC, WAV2VEC2_PUBLIC, EncoderFolder, MotionFile,
                                        choose, read_encoder, read_motion_file)

TRAINED = MotionFile("mine.safetensors", "playmate", trained=True, stage1="S1", encoder_name=WAV2VEC2_PUBLIC,
                     audio=(12, 768))
DEMO = MotionFile("demo.safetensors", "playmate", trained=False, stage1="D1", audio=(2, 32))
DEMO_EMO = MotionFile("demo-emotion.safetensors", "playmate", trained=False, emotion_on="D1")
EMO_TRAINED = MotionFile("emo-good.safetensors", "playmate", trained=False, emotion_on="S1", emotion_trained=True)
EMO_OTHER = MotionFile("emo-other.safetensors", "playmate", trained=False, emotion_on="XX", emotion_trained=True)
JOY = MotionFile(JOYVASA_PUBLIC, "joyvasa", trained=True)
JOY_DEMO = MotionFile("joyvasa-tiny.pt", "joyvasa", trained=False)
W2V = EncoderFolder(WAV2VEC2_PUBLIC, "wav2vec2", (12, 768))
W2V_TINY = EncoderFolder("wav2vec2-tiny", "wav2vec2", (2, 32))
HUBERT = EncoderFolder(HUBERT_PUBLIC, "hubert", (12, 768), weights=False)
HUBERT_TINY = EncoderFolder("hubert-tiny", "hubert", (2, 32), weights=False)
EVERYTHING = [DEMO, DEMO_EMO, JOY, JOY_DEMO, TRAINED, EMO_OTHER, EMO_TRAINED]
ENCODERS = [W2V_TINY, HUBERT_TINY, W2V, HUBERT]


def test_trained_playmate_wins_with_its_emotion_module_and_encoder():
    c = choose(EVERYTHING, ENCODERS)
    assert (c.motion, c.emotion, c.encoder, c.kind, c.source) == (TRAINED.name, EMO_TRAINED.name, WAV2VEC2_PUBLIC,
                                                                   "playmate", "trained")
    assert not c.downloads and not c.untrained
    assert "auto chose mine.safetensors" in c.notes[0] and "emo-good" in c.notes[1]


def test_public_joyvasa_when_no_trained_playmate():
    for may in (False, True):                   # something usable is installed: never a download
        c = choose([DEMO, DEMO_EMO, JOY_DEMO, JOY], ENCODERS, may_download=may)
        assert (c.motion, c.emotion, c.encoder, c.kind, c.source, c.downloads) == (
            JOYVASA_PUBLIC, None, HUBERT_PUBLIC, "joyvasa", "public", ())
        assert any("no emotion control" in n for n in c.notes)


def test_joyvasa_needs_its_template():
    c = choose([MotionFile(JOYVASA_PUBLIC, "joyvasa", trained=True, template=False), DEMO], ENCODERS)
    assert c.motion == DEMO.name and c.source == "demo"


def test_demo_files_are_used_and_called_untrained_and_never_downloaded():
    for may in (False, True):
        c = choose([JOY_DEMO, DEMO_EMO, DEMO], ENCODERS, may_download=may)
        assert (c.motion, c.emotion, c.encoder, c.source, c.downloads) == (DEMO.name, DEMO_EMO.name, "wav2vec2-tiny",
                                                                           "demo", ())
        assert c.untrained and "UNTRAINED" in " ".join(c.notes)
    c = choose([JOY_DEMO], ENCODERS)                       # the demo JoyVASA takes the non-public HuBERT
    assert (c.motion, c.encoder, c.source) == (JOY_DEMO.name, "hubert-tiny", "demo")


def test_nothing_installed_downloads_joyvasa_only_when_allowed():
    c = choose([], [], may_download=True)
    assert (c.motion, c.encoder, c.kind, c.source, c.downloads) == (JOYVASA_PUBLIC, HUBERT_PUBLIC, "joyvasa",
                                                                    "download", ("joyvasa",))
    c = choose([EMO_OTHER], [W2V], may_download=False)     # an emotion module alone is not a motion model
    assert (c.motion, c.source, c.downloads) == (None, "none", ("joyvasa",))


def test_emotion_auto_matches_the_stage1_fingerprint_only():
    assert choose([TRAINED, EMO_OTHER], ENCODERS).emotion is None
    c = choose([TRAINED, DEMO_EMO, EMO_OTHER], ENCODERS)
    assert c.emotion is None and "no emotion module trained on this motion model" in c.notes[-1]
    untrained_match = MotionFile("emo-demo-on-s1.safetensors", "playmate", trained=False, emotion_on="S1")
    assert choose([TRAINED, untrained_match, EMO_TRAINED], ENCODERS).emotion == EMO_TRAINED.name   # trained first
    assert choose([TRAINED, untrained_match], ENCODERS).emotion == untrained_match.name


def test_explicit_names_are_kept():
    c = choose(EVERYTHING, ENCODERS, motion=DEMO.name, emotion="none", encoder="custom")
    assert (c.motion, c.emotion, c.encoder, c.source) == (DEMO.name, "none", "custom", "chosen")
    c = choose(EVERYTHING, ENCODERS, motion=JOY_DEMO.name)        # explicit motion, auto encoder and emotion
    assert (c.motion, c.emotion, c.encoder, c.kind) == (JOY_DEMO.name, None, "hubert-tiny", "joyvasa")
    c = choose(EVERYTHING, ENCODERS, motion="none")
    assert (c.motion, c.emotion, c.encoder, c.kind) == (None, None, None, None)


def test_encoder_auto_fits_the_checkpoint_and_plans_the_public_one():
    own = MotionFile("m.safetensors", "playmate", trained=True, stage1="A", encoder_name="my-enc", audio=(12, 768))
    assert choose([own], ENCODERS + [EncoderFolder("my-enc", "wav2vec2", (12, 768))]).encoder == "my-enc"
    assert choose([own], ENCODERS).encoder == WAV2VEC2_PUBLIC                  # geometry fits, provenance absent
    c = choose([TRAINED], [W2V_TINY], may_download=True)                       # nothing fits: fetch wav2vec2
    assert (c.encoder, c.downloads) == (WAV2VEC2_PUBLIC, ("wav2vec2-base-960h",))
    c = choose([JOY], [W2V], may_download=True)                                # JoyVASA without its config
    assert (c.encoder, c.downloads) == (HUBERT_PUBLIC, (HUBERT_PUBLIC,))
    c = choose([JOY], [W2V], may_download=False)
    assert c.encoder is None and "read from its checkpoint" in c.notes[-1]


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    from make_demo_models import write_demo_models
    root = tmp_path_factory.mktemp("models")
    write_demo_models(root)
    return root


def test_facts_read_from_the_demo_files(demo_models):
    folder = demo_models / "playmate"
    files = {p.name: read_motion_file(p.name, p) for p in sorted(folder.iterdir())}
    assert files["motion_template.pkl"] is None
    joy = files["joyvasa-tiny-random.pt"]
    assert (joy.kind, joy.trained, joy.template) == ("joyvasa", False, True)      # marked untrained in its args
    stage1 = files["playmate-motion-tiny-untrained.safetensors"]
    emo = files["playmate-emotion-tiny-untrained.safetensors"]
    assert (stage1.kind, stage1.trained, stage1.emotion_on) == ("playmate", False, None)
    assert stage1.stage1 and emo.emotion_on == stage1.stage1 and emo.stage1 is None
    encoders = [read_encoder(p.name, p) for p in sorted((demo_models / "audio_encoders").iterdir())]
    assert [(e.model_type, e.weights) for e in encoders] == [("hubert", False), ("wav2vec2", True)]
    c = choose(list(files.values()), encoders, may_download=True)
    assert (c.motion, c.emotion, c.encoder, c.source, c.downloads) == (
        stage1.name, emo.name, "wav2vec2-tiny-random", "demo", ())


def test_a_released_layout_joyvasa_counts_as_public(tmp_path):
    import torch
    from playmate_core.motion.joyvasa.export import (TINY_HUBERT, TINY_JOYVASA, build_random_joyvasa,
                                                     save_released_layout)
    path = save_released_layout(build_random_joyvasa(TINY_JOYVASA, TINY_HUBERT, seed=0), tmp_path / JOYVASA_PUBLIC)
    assert read_motion_file(path.name, path).template is False
    (tmp_path / "motion_template.pkl").write_bytes(b"x")
    f = read_motion_file(path.name, path)
    assert (f.kind, f.trained, f.template) == ("joyvasa", True, True)
    torch.save({"not": "joyvasa"}, str(tmp_path / "other.pt"))
    assert read_motion_file("other.pt", tmp_path / "other.pt") is None
