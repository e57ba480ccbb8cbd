"""Weight-free motion metrics on closed-form and synthetic cases."""
import numpy as np
import pytest

from playmate_core.eval import motion_metrics as mm

FPS = 25


def _motion_from_mouth(mouth: np.ndarray) -> np.ndarray:
    """(N,) opening -> (N,70) motion whose lip keypoints move along a fixed direction."""
    rng = np.random.default_rng(0)
    direction = rng.normal(size=18)
    values = np.zeros((len(mouth), 70))
    exp = values[:, :63].reshape(-1, 21, 3)
    exp[:, mm.LIP_KEYPOINTS] = (mouth[:, None] * direction).reshape(-1, 6, 3)
    values[:, :63] = exp.reshape(-1, 63)
    return values


def _speech_like(n_frames: int, seed: int = 1):
    """Waveform whose loudness follows a random envelope, with two silent gaps."""
    rng = np.random.default_rng(seed)
    env = np.abs(np.convolve(rng.normal(size=n_frames), np.ones(4) / 4, mode="same")) + 0.05
    env[20:40] = 0.0
    env[120:150] = 0.0
    wave = np.repeat(env, 640) * rng.normal(size=n_frames * 640)
    return env, wave


def test_energy_has_one_value_per_frame_and_tracks_loudness():
    env, wave = _speech_like(200)
    e = mm.audio_energy_db(wave, 200, FPS)
    assert e.shape == (200,)
    assert e[30] < e.max() - 40 and np.corrcoef(e[50:110], np.log(env[50:110] + 1e-3))[0, 1] > 0.8


@pytest.mark.parametrize("lag", [0, 2, -3])
def test_lip_sync_lag_is_recovered(lag):
    env, wave = _speech_like(200)
    e = mm.audio_energy_db(wave, 200, FPS)
    mouth = np.roll(np.clip(e - e.max() + 40, 0, None), lag)          # mouth follows energy, shifted
    values = _motion_from_mouth(mouth)
    axis = mm.fit_mouth_axis(values, e)
    res = mm.lagged_correlation(axis(values), e, max_lag=5)
    assert res["best_lag"] == lag and res["best_r"] > 0.9
    assert (res["r0"] > 0.9) == (lag == 0)


def test_mouth_axis_sign_follows_energy():
    e = np.sin(np.linspace(0, 12, 100))
    values = _motion_from_mouth(-e)                                      # stored with the opposite sign
    assert np.corrcoef(mm.fit_mouth_axis(values, e)(values), e)[0, 1] > 0.99


def test_silence_closure():
    env, wave = _speech_like(200)
    e = mm.audio_energy_db(wave, 200, FPS)
    good = np.where(mm.silence_mask(e), 0.0, 1.0)                       # closes in silence
    bad = np.ones(200)
    bad[::2] = 0.0                                                       # chatters regardless of audio
    g, b = mm.silence_closure(good, e, closed_below=0.1), mm.silence_closure(bad, e, closed_below=0.1)
    assert g["ratio"] == 0.0 and g["closed_fraction"] == 1.0 and g["silent_frames"] >= 45
    assert b["ratio"] > 0.5 and b["closed_fraction"] < 0.6


def test_jitter_closed_forms():
    t = np.arange(100, dtype=np.float64)
    quad = mm.jitter(0.5 * t[:, None] ** 2)                              # third difference of t^2 is 0
    assert quad["jerk"] == 0.0 and np.isclose(quad["acceleration"], 1.0)
    slow = mm.jitter(np.sin(2 * np.pi * 1.0 * t / FPS)[:, None])       # 1 Hz
    fast = mm.jitter(np.sin(2 * np.pi * 10.0 * t / FPS)[:, None])      # 10 Hz
    assert slow["hf_ratio"] < 0.05 and fast["hf_ratio"] > 0.95 and fast["jerk"] > slow["jerk"]


def test_seam_score_flags_jumps_only_at_seams():
    n = 300
    seams = mm.window_seams(n)
    assert seams and all(0 < s < n for s in seams)
    smooth = np.sin(np.arange(n) / 10.0)[:, None]
    assert 0.5 < mm.seam_score(smooth, seams) < 2.0
    jumpy = smooth.copy()
    for s in seams:
        jumpy[s:] += 0.5                                                # a step at every seam
    assert mm.seam_score(jumpy, seams) > 4                              # ~0.55 step vs ~0.08 typical


def test_pose_diversity():
    values = np.zeros((100, 70))
    values[:, 64] = 10 * np.sin(np.arange(100) / 5.0)                  # yaw only
    d = mm.pose_diversity(values)
    assert d["std_pitch"] == 0.0 and d["std_roll"] == 0.0 and 6 < d["std_yaw"] < 8 and d["delta_p"] > 0


def test_nearest_centroid_emotion_accuracy():
    rng = np.random.default_rng(0)
    centres = {"happy": np.array([1.0, 0, 0]), "sad": np.array([0, 1.0, 0]), "angry": np.array([0, 0, 1.0])}
    labels = [c for c in centres for _ in range(20)]
    feats = np.stack([centres[c] + 0.05 * rng.normal(size=3) for c in labels])
    clf = mm.NearestCentroid(feats, labels)
    res = clf.accuracy(feats, labels)
    assert res["accuracy"] == 1.0 and res["confusion"][("happy", "happy")] == 20
    shuffled = list(np.random.default_rng(1).permutation(labels))
    assert clf.accuracy(feats, shuffled)["accuracy"] < 0.6
