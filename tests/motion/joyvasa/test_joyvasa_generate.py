"""JoyVASA sampling on a tiny random model loaded through the real loader: frame counts at any fps,
windows, noise, callbacks, pose smoothing, relative motion, and the closed-form pieces."""
import math

import pytest
import torch

from playmate_core.motion.joyvasa import REFERENCE_POSE_SMOOTHING, generate_joyvasa_motion, load_joyvasa
from playmate_core.motion.joyvasa.audio import pad_window
from playmate_core.motion.joyvasa.denoiser import alignment_mask, sinusoid_table
from playmate_core.motion.joyvasa.export import (TINY_HUBERT, TINY_JOYVASA, build_random_joyvasa, save_released_layout,
                                          save_template_pickle)
from playmate_core.motion.joyvasa.generate import sample_utterance, window_plan
from playmate_core.motion.joyvasa.pose import LIP_KEYPOINTS, relative_to_source, rotation_to_degrees, smooth_pose
from playmate_core.motion.joyvasa.sampler import cosine_schedule, plan_steps
from playmate_core.face.keypoints import rotation_matrix
from playmate_core.motion.layout import motion_to_vector


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("joyvasa_gen")
    m = build_random_joyvasa(TINY_JOYVASA, TINY_HUBERT, seed=1)
    ckpt = save_released_layout(m, d / "motion_generator_hubert_chinese.pt")
    tmpl = save_template_pickle(m.template, d / "motion_template.pkl")
    return load_joyvasa(ckpt, tmpl, _config_dir(d, m))


def _config_dir(d, m):
    (d / "hubert").mkdir()
    (d / "hubert" / "config.json").write_text(m.audio_encoder.config.to_json_string())
    return d / "hubert"


def source(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"kp": torch.randn(1, 21, 3, generator=g) * 0.3, "exp": torch.randn(1, 21, 3, generator=g) * 0.02,
            "pitch": torch.tensor([[5.0]]), "yaw": torch.tensor([[-10.0]]), "roll": torch.tensor([[3.0]]),
            "t": torch.tensor([[0.02, -0.01, 0.1]]), "scale": torch.tensor([[1.3]])}


def speech(seconds, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = int(round(seconds * 16000))
    return torch.randn(n, generator=g) * 0.1 * torch.sin(torch.arange(n) / 16000 * 2 * math.pi * 2.5).abs()


@pytest.mark.parametrize("fps,seconds", [(25, 0.9), (30, 0.9), (12.5, 1.3), (24, 0.05)])
def test_frame_count_is_ceil_duration_times_fps(model, fps, seconds):
    wav = speech(seconds)
    seq = generate_joyvasa_motion(model, wav, 16000, source(), fps=fps, steps=1)
    assert len(seq) == math.ceil(wav.shape[0] / 16000 * fps - 1e-9)
    assert seq.values.shape[1] == 70 and seq.values.dtype == torch.float32 and torch.isfinite(seq.values).all()
    assert seq.origin == "joyvasa" and seq.fps == fps and seq.trained
    torch.testing.assert_close(seq.kp, source()["kp"])


def test_window_plan_matches_the_reference_arithmetic():
    cfg = TINY_JOYVASA                                       # L = 10 frames = 6400 samples
    for s in (640, 6399, 6400, 12345, 40000):
        total, windows, drop = window_plan(s, cfg)
        assert total == s + 1920
        assert windows * cfg.n_motions - drop == total // 640 or windows == 1
    assert pad_window(torch.zeros(1, 64000)).shape[1] == 64080
    assert pad_window(torch.zeros(1, 6400)).shape[1] == 6480


def test_callback_counts_every_step_and_can_cancel(model):
    calls = []
    wav = speech(1.0)
    _, windows, _ = window_plan(wav.shape[0], model.cfg)
    generate_joyvasa_motion(model, wav, 16000, source(), callback=lambda d, t: calls.append((d, t)))
    total = windows * model.cfg.n_diff_steps
    assert calls == [(i, total) for i in range(1, total + 1)]

    def cancel(done, total):
        if done == 3:
            raise InterruptedError("stop")
    with pytest.raises(InterruptedError):
        generate_joyvasa_motion(model, wav, 16000, source(), callback=cancel)


def test_seed_determinism_and_noise_reuse(model):
    wav = speech(0.5)
    a = sample_utterance(model, wav, seed=3)
    torch.testing.assert_close(a, sample_utterance(model, wav, seed=3), rtol=0, atol=0)
    assert not torch.allclose(a, sample_utterance(model, wav, seed=4))
    # the global RNG is neither used nor disturbed
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    sample_utterance(model, wav, seed=3)
    assert torch.equal(torch.rand(1), before)


def test_relative_motion_starts_at_the_source(model):
    src = source()
    seq = generate_joyvasa_motion(model, speech(0.6), 16000, src, pose_smoothing=0.0)
    absolute = generate_joyvasa_motion(model, speech(0.6), 16000, src, pose_smoothing=0.0,
                                       relative_to_first_frame=False)
    s = motion_to_vector({k: v for k, v in src.items() if k != "kp"})[0]
    first = seq.values[0]
    lips = [3 * k + c for k in LIP_KEYPOINTS for c in range(3)]
    others = [i for i in range(63) if i not in lips]
    torch.testing.assert_close(first[others], s[others], atol=1e-6, rtol=0)
    torch.testing.assert_close(first[lips], absolute.values[0, lips])      # lips: the generated value
    torch.testing.assert_close(first[63:66], s[63:66], atol=1e-3, rtol=0)   # degrees
    torch.testing.assert_close(first[[66, 67, 69]], s[[66, 67, 69]], atol=1e-6, rtol=0)
    assert torch.all(seq.values[:, 68] == 0)                                # t_z


def test_pose_smoothing(model):
    wav = speech(1.0)
    off = generate_joyvasa_motion(model, wav, 16000, source(), pose_smoothing=0.0, relative_to_first_frame=False)
    on = generate_joyvasa_motion(model, wav, 16000, source(), relative_to_first_frame=False)
    ref = generate_joyvasa_motion(model, wav, 16000, source(), pose_smoothing=REFERENCE_POSE_SMOOTHING,
                                  relative_to_first_frame=False)
    jitter = [v.values[:, 63:70].diff(dim=0).abs().mean() for v in (off, on, ref)]
    assert jitter[0] > jitter[1] > jitter[2]
    torch.testing.assert_close(on.values[:, :63], off.values[:, :63])      # expression is never smoothed
    x = torch.randn(5, 70)
    assert torch.equal(smooth_pose(x, 0.0), x)
    torch.testing.assert_close(smooth_pose(x, 0.5)[1, 63:], 0.5 * x[1, 63:] + 0.5 * x[0, 63:])


def test_rotation_round_trip_and_relative_identity():
    angles = torch.tensor([[10.0, -30.0, 5.0], [0.0, 0.0, 0.0], [-25.0, 60.0, -40.0]])
    rot = rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    torch.testing.assert_close(rotation_to_degrees(rot), angles, atol=1e-4, rtol=0)
    v = torch.randn(4, 70)
    v[:, 69] = 1.5
    out = relative_to_source(v, v[:1].clone())          # source = first frame: nothing but t_z changes
    v2 = v.clone()
    v2[:, 68] = 0
    torch.testing.assert_close(out, v2, atol=1e-4, rtol=0)


def test_closed_form_pieces():
    table = sinusoid_table(7, 8)[0]
    torch.testing.assert_close(table[3, 2], torch.sin(torch.tensor(3 * 10000 ** (-2 / 8))))
    torch.testing.assert_close(table[3, 3], torch.cos(torch.tensor(3 * 10000 ** (-2 / 8))))
    mask = alignment_mask(5)
    assert torch.equal(mask, ~torch.eye(5, dtype=torch.bool))
    sched = cosine_schedule(50)
    assert sched["betas"][0] == 0 and sched["betas"][1:].min() >= 1e-4 and sched["alpha_bars"][-1] < 1e-3
    full = plan_steps(sched)
    assert [c.t for c in full] == list(range(50, 0, -1))
    short = plan_steps(sched, 10)
    assert short[0].t == 50 and short[-1].t == 1 and len(short) == 10 and short[-1].sigma == 0
    with pytest.raises(ValueError, match="between 1 and 50"):
        plan_steps(sched, 51)


@pytest.mark.parametrize("kwargs,match", [
    ({"cfg_scale": -1}, "cfg_scale"), ({"pose_smoothing": 1.0}, "pose_smoothing"), ({"fps": 0}, "fps"),
    ({"steps": 99}, "between 1 and"), ({"seed": -1}, "seed"),
    ({"source_motion": {"kp": torch.zeros(1, 21, 3)}}, "missing"), ({"waveform": torch.zeros(100)}, "shorter than one"),
])
def test_bad_input_is_refused(model, kwargs, match):
    """(An emotion request is refused by the backend front door: tests/motion/test_backend.py.)"""
    args = {"waveform": speech(0.3), "sample_rate": 16000, "source_motion": source(), **kwargs}
    with pytest.raises(ValueError, match=match):
        generate_joyvasa_motion(model, **args)
    with pytest.raises(ValueError, match="JoyVASAModel"):
        generate_joyvasa_motion(object(), speech(0.3), 16000, source())
