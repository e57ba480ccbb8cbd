"""The motion-backend front door (playmate_core/motion/backend.py): the kind is recognised from the file,
one generate call serves every backend with the same result as the backend's own entry point, and the
rules shared by all backends (emotion, options that do not apply, unknown options) are enforced there."""
import importlib.util
import logging
import math
from pathlib import Path

import pytest
import torch

from playmate_core.motion import EMOTION_LABELS, MotionRequest, generate_motion, load_motion_backend
from playmate_core.motion.backend import (JoyVASABackend, PlaymateBackend, backend_options, is_checkpoint_name,
                                          is_emotion_checkpoint_name)
from playmate_core.motion.interface import BackendOption, Capabilities, MotionBackend, _REGISTRY, register
from playmate_core.motion.joyvasa import generate_joyvasa_motion
from playmate_core.motion.layout import POSE, motion_to_vector
from playmate_core.motion.sequence import MotionSequence, scale_pose
from playmate_core.timebase import frame_count

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """Tiny random models of every kind, written by tools/make_demo_models.py in the real layouts."""
    spec = importlib.util.spec_from_file_location("make_demo_models", ROOT / "tools" / "make_demo_models.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.write_demo_models(tmp_path_factory.mktemp("models"), seed=3)


def source(seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"kp": torch.randn(1, 21, 3, generator=g) * 0.3, "exp": torch.randn(1, 21, 3, generator=g) * 0.02,
            "pitch": torch.tensor([[5.0]]), "yaw": torch.tensor([[-10.0]]), "roll": torch.tensor([[3.0]]),
            "t": torch.tensor([[0.02, -0.01, 0.1]]), "scale": torch.tensor([[1.3]])}


def speech(seconds: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n = int(round(seconds * 16000))
    return (torch.randn(n, generator=g) * 0.1)[None]                                    # 1,S


def test_playmate_stage1_is_recognised_and_generates_like_its_own_entry_point(demo):
    backend = load_motion_backend(demo["motion"], audio_encoder=demo["audio_encoder"])
    caps = backend.capabilities
    assert isinstance(backend, PlaymateBackend) and isinstance(caps, Capabilities)
    assert caps.kind == "playmate" and not caps.emotion and caps.trained is False
    assert {"fps", "seed", "steps", "pose_scale", "cfg_audio", "eta"} <= set(caps.options)
    assert "cfg_emotion" not in caps.options and "joyvasa_cfg_scale" not in caps.options
    assert str(demo["motion"]) in caps.provenance["files"]
    wav = speech(1.3)
    request = MotionRequest(fps=30.0, seed=7, steps=2, pose_scale=0.5)
    seq = backend.generate(wav, 16000, source(), request)
    direct = generate_motion(backend.model, wav, 16000, source_motion=source(), steps=2, seed=7, fps=30.0,
                             pose_scale=0.5, encoder=backend.encoder)
    assert isinstance(seq, MotionSequence) and len(seq) == frame_count(wav.shape[1], 30.0, 16000) == 39
    torch.testing.assert_close(seq.values, direct.values, rtol=0, atol=0)


def test_playmate_with_emotion_declares_its_labels_and_takes_an_emotion(demo):
    backend = load_motion_backend(demo["motion"], emotion=demo["emotion"], audio_encoder=demo["audio_encoder"])
    caps = backend.capabilities
    assert caps.emotion and caps.emotion_labels == EMOTION_LABELS and "cfg_emotion" in caps.options
    seq = backend.generate(speech(0.6), 16000, source(), MotionRequest(steps=1, emotion="happy", intensity=2))
    assert len(seq) == 15 and torch.isfinite(seq.values).all()


def test_joyvasa_is_recognised_from_its_contents_and_matches_its_own_entry_point(demo):
    backend = load_motion_backend(demo["joyvasa"], audio_encoder=demo["joyvasa_encoder"])
    caps = backend.capabilities
    assert isinstance(backend, JoyVASABackend) and caps.kind == "joyvasa" and not caps.emotion
    assert {"joyvasa_cfg_scale", "joyvasa_pose_smoothing", "joyvasa_relative"} <= set(caps.options)
    assert "cfg_audio" not in caps.options
    wav = speech(0.9)
    opts = {"joyvasa_cfg_scale": 1.7, "joyvasa_pose_smoothing": 0.3, "joyvasa_relative": False}
    seq = backend.generate(wav, 16000, source(), MotionRequest(fps=12.5, seed=4, steps=2, pose_scale=0.0,
                                                              options=opts))
    direct = generate_joyvasa_motion(backend.model, wav, 16000, source(), cfg_scale=1.7, steps=2, seed=4, fps=12.5,
                                     pose_smoothing=0.3, relative_to_first_frame=False)
    pose_s = motion_to_vector({k: v for k, v in source().items() if k != "kp"})[0, POSE]
    torch.testing.assert_close(seq.values, scale_pose(direct, pose_s, 0.0).values, rtol=0, atol=0)
    assert len(seq) == frame_count(wav.shape[1], 12.5, 16000)
    torch.testing.assert_close(seq.values[:, POSE], pose_s.expand(len(seq), -1))      # pose_scale 0: still head


def test_joyvasa_steps_at_or_above_its_schedule_use_the_whole_schedule(demo):
    backend = load_motion_backend(demo["joyvasa"], audio_encoder=demo["joyvasa_encoder"])
    n = backend.model.cfg.n_diff_steps
    wav = speech(0.5)
    a = backend.generate(wav, 16000, source(), MotionRequest(steps=n + 5, seed=1))
    b = generate_joyvasa_motion(backend.model, wav, 16000, source(), steps=None, seed=1)
    torch.testing.assert_close(a.values, b.values, rtol=0, atol=0)


def test_emotion_is_refused_once_for_backends_without_it(demo):
    joy = load_motion_backend(demo["joyvasa"], audio_encoder=demo["joyvasa_encoder"])
    with pytest.raises(ValueError, match="JoyVASA backend has no emotion control .*: ask for no emotion"):
        joy.generate(speech(0.5), 16000, source(), MotionRequest(emotion="happy"))
    with pytest.raises(ValueError, match="no emotion control"):
        joy.generate(speech(0.5), 16000, source(), MotionRequest(emotion=[(0.0, 1.0, "sad", None)]))
    stage1 = load_motion_backend(demo["motion"], audio_encoder=demo["audio_encoder"])
    with pytest.raises(ValueError, match="Playmate backend has no emotion control .*stage-1 checkpoint has no emotion"):
        stage1.generate(speech(0.5), 16000, source(), MotionRequest(emotion="sad"))
    with pytest.raises(ValueError, match="JoyVASA backend has no emotion module; set emotion_model to none"):
        load_motion_backend(demo["joyvasa"], emotion=demo["emotion"], audio_encoder=demo["joyvasa_encoder"])


def test_files_that_are_no_motion_checkpoint_and_missing_pairs_are_refused(demo, tmp_path):
    with pytest.raises(ValueError, match="needs its stage-1 motion checkpoint"):
        load_motion_backend(None, emotion=demo["emotion"])
    with pytest.raises(ValueError, match="choose a motion_model"):
        load_motion_backend(None)
    odd = tmp_path / "weights.bin"
    odd.write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match="not a motion checkpoint this pack can load"):
        load_motion_backend(odd)
    plain = tmp_path / "other.pt"
    torch.save({"w": torch.zeros(2)}, plain)                      # a torch file that is not JoyVASA's
    with pytest.raises(ValueError, match="not a motion checkpoint this pack can load"):
        load_motion_backend(plain)


def test_options_that_do_not_apply_are_named_and_unknown_options_refused(demo, caplog):
    backend = load_motion_backend(demo["motion"], audio_encoder=demo["audio_encoder"])
    with caplog.at_level(logging.WARNING, logger="playmate"):
        backend.generate(speech(0.3), 16000, source(), MotionRequest(steps=1, options={"joyvasa_cfg_scale": 2.8}))
    assert "ignored" not in caplog.text                           # a default value is no request
    with caplog.at_level(logging.WARNING, logger="playmate"):
        backend.generate(speech(0.3), 16000, source(), MotionRequest(steps=1, cfg_emotion=3.0,
                                                                      options={"joyvasa_relative": False}))
    assert "cfg_emotion" in caplog.text and "joyvasa_relative" in caplog.text and "ignored" in caplog.text
    with pytest.raises(ValueError, match=r"unknown motion option\(s\) \['joyvasa_cfg'\]"):
        backend.generate(speech(0.3), 16000, source(), MotionRequest(options={"joyvasa_cfg": 1.0}))
    with pytest.raises(ValueError, match="must be a MotionRequest"):
        backend.generate(speech(0.3), 16000, source(), {"steps": 1})


def test_request_from_node_widgets():
    r = MotionRequest.from_widgets(emotion="none", emotion_track="", intensity=0, fps=30.0, steps=3, seed=2,
                                   pose_scale=1.0, cfg_audio=2.0, cfg_emotion=1.5, joyvasa_cfg_scale=2.0)
    assert r.emotion is None and r.intensity is None and r.fps == 30.0 and r.cfg_audio == 2.0
    assert dict(r.options) == {"joyvasa_cfg_scale": 2.0}
    r = MotionRequest.from_widgets(emotion="happy", emotion_track="0-1 sad 2\n1-end angry", intensity=3)
    assert r.emotion == [(0.0, 1.0, "sad", 2), (1.0, math.inf, "angry", None)] and r.intensity == 3
    assert MotionRequest.from_widgets(emotion="happy").emotion == "happy"


def test_checkpoint_names_offered_by_the_loader():
    assert is_checkpoint_name("playmate/a.safetensors") and is_checkpoint_name("motion_generator_hubert_chinese.pt")
    assert not is_checkpoint_name("motion_template.pkl") and not is_checkpoint_name("motion_template.safetensors")
    assert not is_checkpoint_name("notes.txt")
    assert is_emotion_checkpoint_name("emo.safetensors") and not is_emotion_checkpoint_name("x.pt")


def test_a_new_backend_needs_only_a_registered_class(tmp_path):
    """The extension point the node layer relies on: a registered class is recognised by the front door and
    its own options appear among the node widgets' specs, with no other change."""

    class ConstantBackend(MotionBackend):
        KIND = "constant"
        DESCRIPTION = "test-only: holds the source pose"
        SUFFIXES = (".constmotion",)
        OPTIONS = (BackendOption("constant_gain", "float", 1.0, tooltip="test only", minimum=0.0, maximum=2.0),)

        @classmethod
        def recognises(cls, checkpoint):
            return checkpoint.suffix == ".constmotion"

        @classmethod
        def load(cls, checkpoint, emotion=None, audio_encoder=None, device="cpu", dtype=torch.float32):
            return cls()

        @property
        def capabilities(self):
            return Capabilities(kind=self.KIND, emotion=False, options=("fps", "constant_gain"), trained=True)

        def _generate(self, waveform, sample_rate, source_motion, request, callback):
            n = frame_count(waveform.shape[-1], request.fps, sample_rate)
            vec = motion_to_vector({k: v for k, v in source_motion.items() if k != "kp"})
            return MotionSequence(values=vec.expand(n, -1) * self.option(request, "constant_gain"),
                                  kp=source_motion["kp"], fps=request.fps, trained=True)

    register(ConstantBackend)
    try:
        path = tmp_path / "m.constmotion"
        path.write_bytes(b"x")
        backend = load_motion_backend(path)
        assert isinstance(backend, ConstantBackend) and is_checkpoint_name("m.constmotion")
        assert "constant_gain" in [o.name for o in backend_options()]
        seq = backend.generate(speech(1.0), 16000, source(), MotionRequest(fps=10, options={"constant_gain": 1.0}))
        assert len(seq) == 10
    finally:
        _REGISTRY.remove(ConstantBackend)
    assert "constant_gain" not in [o.name for o in backend_options()]


@pytest.mark.parametrize("kind", ["motion", "joyvasa"])
@pytest.mark.parametrize("request_kwargs,match", [
    ({"pose_scale": 11.0}, "pose_scale"), ({"fps": 0}, "fps"), ({"seed": -1}, "seed"),
])
def test_bad_requests_are_refused_by_every_backend(demo, kind, request_kwargs, match):
    encoder = demo["audio_encoder"] if kind == "motion" else demo["joyvasa_encoder"]
    backend = load_motion_backend(demo[kind], audio_encoder=encoder)
    with pytest.raises(ValueError, match=match):
        backend.generate(speech(0.3), 16000, source(), MotionRequest(steps=1, **request_kwargs))
