"""Sync-C/Sync-D protocol: MFCC pieces, windows, offset search, face crops and input errors."""
import logging

import cv2
import numpy as np
import pytest
import torch
from scipy.fft import dct as scipy_dct

from playmate_core.crop.detection import DetectedFace
from playmate_core.eval import mfcc as M
from playmate_core.eval import sync_eval as S
from playmate_core.eval.syncnet import SyncNet

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------ MFCC, against plain loops

def dct_basis(n_out, n_in):
    """(n_out, n_in) orthonormal DCT-II rows: sqrt(2/N) cos(pi q (2p + 1) / 2N), row 0 scaled by 1/sqrt(2)."""
    basis = np.array([[np.cos(np.pi * q * (2 * p + 1) / (2 * n_in)) for p in range(n_in)] for q in range(n_out)])
    basis *= np.sqrt(2 / n_in)
    basis[0] /= np.sqrt(2)
    return basis


def naive_mfcc(x):
    """The protocol's MFCC written out with loops and explicit formulas (independent of mfcc.py)."""
    x = np.asarray(x, np.float64)
    y = np.array([x[0]] + [x[n] - 0.97 * x[n - 1] for n in range(1, len(x))])
    count = 1 if len(y) <= 400 else 1 + int(np.ceil((len(y) - 400) / 160))
    y = np.concatenate([y, np.zeros((count - 1) * 160 + 400 - len(y))])
    k = np.arange(257)[:, None]
    n = np.arange(400)[None, :]
    dft = np.exp(-2j * np.pi * k * n / 512)                          # 400 samples, 512-point DFT
    mel = np.linspace(0, 2595 * np.log10(1 + 8000 / 700), 28)
    edges = [int(np.floor(513 * 700 * (10 ** (m / 2595) - 1) / 16000)) for m in mel]
    bank = np.zeros((26, 257))
    for j in range(26):
        for i in range(edges[j], edges[j + 1]):
            bank[j, i] = (i - edges[j]) / (edges[j + 1] - edges[j])
        for i in range(edges[j + 1], edges[j + 2]):
            bank[j, i] = (edges[j + 2] - i) / (edges[j + 2] - edges[j + 1])
    basis = dct_basis(13, 26)
    out = []
    for f in range(count):
        power = np.abs(dft @ y[160 * f:160 * f + 400]) ** 2 / 512
        ceps = basis @ np.log(bank @ power)
        ceps *= 1 + 11 * np.sin(np.pi * np.arange(13) / 22)
        ceps[0] = np.log(power.sum())
        out.append(ceps)
    return np.array(out)


def test_mfcc_matches_the_written_out_pipeline():
    t = np.arange(5000) / 16000
    x = np.rint(6000 * np.sin(2 * np.pi * 523 * t) + 2000 * RNG.standard_normal(t.size))
    ours = M.mfcc(x)
    assert ours.shape == (1 + int(np.ceil((5000 - 400) / 160)), 13)
    np.testing.assert_allclose(ours, naive_mfcc(x), rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("samples,frames", [(100, 1), (400, 1), (401, 2), (560, 2), (561, 3), (16000, 99)])
def test_frame_count(samples, frames):
    assert M.n_frames(samples, 400, 160) == frames
    assert M.mfcc(np.ones(samples)).shape == (frames, 13)


def test_pipeline_pieces():
    np.testing.assert_allclose(M.preemphasis(np.array([1.0, 2.0, 3.0]), 0.97), [1.0, 2.0 - 0.97, 3.0 - 1.94])
    x = np.arange(1000.0)
    frames = M.frame_signal(x, 400, 160)
    assert frames.shape == (5, 400)                  # 1 + ceil((1000 - 400) / 160)
    np.testing.assert_array_equal(frames[2], x[320:720])
    np.testing.assert_array_equal(frames[4, :360], x[640:])
    np.testing.assert_array_equal(frames[4, 360:], 0)
    bank = M.mel_filterbank(26, 512, 16000)
    edges = M.filter_edges(26, 512, 16000, 0, 8000)
    assert bank.shape == (26, 257) and edges[0] == 0 and edges[-1] == 256
    assert np.all(bank >= 0) and np.all(bank <= 1)
    for j in range(26):                              # each triangle peaks (=1) at its middle edge
        assert bank[j, edges[j + 1]] == 1.0
        assert bank[j, :edges[j]].sum() == 0 and bank[j, edges[j + 2]:].sum() == 0
    z = RNG.standard_normal((3, 26))                 # DCT-II, orthonormal: an explicit cosine basis
    np.testing.assert_allclose(scipy_dct(z, type=2, norm="ortho", axis=1), z @ dct_basis(26, 26).T, atol=1e-12)
    lift = M.lifter_weights(13, 22)
    assert lift[0] == 1.0 and lift[11] == pytest.approx(12.0)


def test_power_spectrum_is_the_dft_energy():
    frame = RNG.standard_normal((1, 400))
    k = 37
    direct = np.sum(frame[0] * np.exp(-2j * np.pi * k * np.arange(400) / 512))
    assert M.power_spectrum(frame, 512)[0, k] == pytest.approx(abs(direct) ** 2 / 512)


def test_sine_lands_in_the_mel_band_around_its_frequency():
    t = np.arange(16000) / 16000
    x = 10000 * np.sin(2 * np.pi * 1000 * t)
    power = M.power_spectrum(M.frame_signal(M.preemphasis(x, 0.97), 400, 160), 512)
    bands = power @ M.mel_filterbank(26, 512, 16000).T                  # (M, 26)
    centres = M.filter_edges(26, 512, 16000, 0, 8000)[1:-1]
    expected = int(np.argmin(np.abs(centres - 1000 * 512 / 16000)))
    assert np.all(bands[1:-1].argmax(axis=1) == expected)
    ceps = M.mfcc(x)
    np.testing.assert_allclose(ceps[5, 0], np.log(power[5].sum()))  # column 0 = log frame energy


# ------------------------------------------------------------------ offset search on embeddings

def protocol_distances(v, a, vshift):
    """D[t, j] the way the reference computes it: zero-padded audio, torch pairwise_distance."""
    v, a = torch.from_numpy(v), torch.from_numpy(a)
    padded = torch.nn.functional.pad(a, (0, 0, vshift, vshift))
    rows = [torch.nn.functional.pairwise_distance(v[[t]].repeat(2 * vshift + 1, 1), padded[t:t + 2 * vshift + 1])
            for t in range(len(v))]
    return torch.stack(rows).numpy()


def test_offset_distances_match_pairwise_distance():
    v = RNG.standard_normal((12, 16)).astype(np.float32)
    a = RNG.standard_normal((12, 16)).astype(np.float32)
    np.testing.assert_allclose(S.offset_distances(v, a, 4), protocol_distances(v, a, 4), rtol=1e-5)


@pytest.mark.parametrize("lag", [3, -2])
def test_offset_search_recovers_a_known_lag(lag):
    n, dim, vshift = 60, 32, 15
    base = RNG.standard_normal((n + 40, dim)).astype(np.float32)
    video = base[20:20 + n] + 0.1 * RNG.standard_normal((n, dim)).astype(np.float32)
    audio = base[20 + lag:20 + lag + n]              # video frame t == audio frame t - lag
    result = S.sync_from_distances(S.offset_distances(video, audio, vshift), vshift)
    assert result["offset"] == lag
    assert result["dists"].shape == (2 * vshift + 1,)
    assert result["sync_d"] == result["dists"].min() == result["dists"][vshift - lag]
    assert result["sync_c"] == pytest.approx(np.median(result["dists"]) - result["sync_d"])
    assert result["sync_c"] > 0


class EnvelopeNet(torch.nn.Module):
    """Stand-in SyncNet: per-frame log brightness vs per-frame log energy (MFCC c0), z-scored."""

    @staticmethod
    def _zscore(x):
        return (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6)

    def embed_lip(self, lips):                        # (B, 3, 5, H, W) -> (B, 5)
        return self._zscore(torch.log(lips.mean(dim=(1, 3, 4)) + 1))

    def embed_audio(self, mfcc):                      # (B, 1, 13, 20) -> (B, 5)
        return self._zscore(mfcc[:, 0, 0].reshape(len(mfcc), 5, 4).mean(-1) / 2)


@pytest.mark.parametrize("lag", [3, -2])
def test_sync_scores_sign_convention_on_synthetic_clip(lag):
    n = 50
    envelope = RNG.uniform(0.1, 1.0, n + 20)         # loudness of frame k is envelope[k + 10]
    samples = np.arange(n * 1764) / 44100            # 44.1 kHz: exercises the resampling
    wave = 0.5 * np.sin(2 * np.pi * 300 * samples) * np.repeat(envelope[10:10 + n], 1764)
    brightness = np.rint(255 * envelope[10 - lag:10 - lag + n])  # picture lags sound by `lag`
    faces = np.broadcast_to(brightness.astype(np.uint8)[:, None, None, None], (n, 224, 224, 3))
    result = S.sync_scores(EnvelopeNet(), faces, wave.astype(np.float32), 44100, vshift=6)
    assert result["offset"] == lag
    assert result["sync_c"] > 0 and result["dists"].shape == (13,)


# ------------------------------------------------------------------ windows and audio

def test_windows_follow_the_protocol_layout():
    faces = RNG.integers(0, 256, (9, 224, 224, 3), dtype=np.uint8)
    lips = S.lip_windows(faces, np.array([0, 3]))
    assert lips.shape == (2, 3, 5, 224, 224) and lips.dtype == torch.float32
    assert lips[1, 0, 2, 10, 20] == faces[5, 10, 20, 2]           # channel 0 is blue (BGR)
    assert lips[1, 2, 4, 7, 9] == faces[7, 7, 9, 0]
    mfcc_t = np.arange(13 * 40, dtype=np.float32).reshape(13, 40)
    windows = S.mfcc_windows(mfcc_t, np.array([0, 5]))
    assert windows.shape == (2, 1, 13, 20)
    np.testing.assert_array_equal(windows[1, 0].numpy(), mfcc_t[:, 20:40])
    with pytest.raises(ValueError, match="MFCC column"):
        S.mfcc_windows(mfcc_t, np.array([6]))


def test_audio_becomes_16k_pcm_values():
    pcm = S.to_pcm16_16k(np.array([0.5, -1.0, 1.0, 0.25], np.float32), 16000)
    np.testing.assert_array_equal(pcm, [16384, -32768, 32767, 8192])
    np.testing.assert_array_equal(S.to_pcm16_16k(np.array([[3, -7]], np.int16), 16000), [3, -7])
    assert len(S.to_pcm16_16k(np.zeros(48000), 48000)) == 16000
    with pytest.raises(ValueError, match="mono"):
        S.to_pcm16_16k(np.zeros((2, 100)), 16000)


def test_small_length_mismatch_warns_and_truncates(caplog):
    with caplog.at_level(logging.WARNING, logger="playmate"):
        assert S.usable_frames(50, 48 * 640) == 48
    assert "lengths differ" in caplog.text


# ------------------------------------------------------------------ end to end, real network

def test_sync_scores_through_syncnet_with_random_weights():
    torch.manual_seed(0)
    model = SyncNet()
    faces = RNG.integers(0, 256, (10, 224, 224, 3), dtype=np.uint8)
    wave = 0.1 * RNG.standard_normal(10 * 882).astype(np.float32)   # 22.05 kHz, same duration
    result = S.sync_scores(model, faces, wave, 22050, vshift=3, batch=2)
    assert set(result) == {"offset", "sync_d", "sync_c", "dists"}
    assert result["dists"].shape == (7,) and np.all(np.isfinite(result["dists"]))
    assert isinstance(result["offset"], int) and -3 <= result["offset"] <= 3
    assert result["sync_d"] == pytest.approx(result["dists"].min())
    assert result["sync_c"] == pytest.approx(np.median(result["dists"]) - result["dists"].min())
    assert not model.training
    again = S.sync_scores(model, faces, wave, 22050, vshift=3, batch=20)
    np.testing.assert_allclose(again["dists"], result["dists"], rtol=1e-4)


# ------------------------------------------------------------------ bad input

def test_too_few_frames_is_refused():
    faces = np.zeros((5, 224, 224, 3), np.uint8)
    with pytest.raises(ValueError, match="at least 6 video frames.*longer clip"):
        S.sync_scores(EnvelopeNet(), faces, np.zeros(16000, np.float32), 16000)


def test_audio_much_shorter_than_video_is_refused():
    faces = np.zeros((50, 224, 224, 3), np.uint8)
    with pytest.raises(ValueError, match=r"audio covers 1\.000 s but the video 2\.000 s.*full audio track"):
        S.sync_scores(EnvelopeNet(), faces, np.zeros(16000, np.float32), 16000)


def test_wrong_face_layout_points_to_face_crops():
    with pytest.raises(ValueError, match="face_crops_for_sync"):
        S.sync_scores(EnvelopeNet(), np.zeros((20, 112, 112, 3), np.uint8), np.zeros(16000), 16000)


# ------------------------------------------------------------------ face crops

class BoxBackend:
    """Fake landmark backend: a fixed box per frame, or no face for the frames listed in `missing`."""

    name = "fake"

    def __init__(self, box, missing=()):
        self.box, self.missing, self.calls, self.closed = np.asarray(box, float), set(missing), 0, False

    def detect(self, image):
        index, self.calls = self.calls, self.calls + 1
        if index in self.missing:
            return []
        return [DetectedFace(np.zeros((478, 2)), self.box, None, "mediapipe478")]

    def close(self):
        self.closed = True


def test_face_crop_geometry_follows_the_protocol():
    yy, xx = np.mgrid[0:240, 0:320]
    frame = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
    frames = np.stack([frame] * 8)
    crops = S.face_crops_for_sync(frames, backend=BoxBackend([140, 60, 180, 110]))   # 40 x 50 box
    assert crops.shape == (8, 224, 224, 3) and crops.dtype == np.uint8
    half, cx, cy = 25.0, 160.0, 85.0                # rows cy - s .. cy + 1.8 s, cols cx +- 1.4 s
    expected = cv2.resize(frame[60:130, 125:195], (224, 224), interpolation=cv2.INTER_LINEAR)
    assert (half, cx, cy) == tuple(S.smooth_boxes(np.array([[140, 60, 180, 110]] * 8))[3])
    np.testing.assert_array_equal(crops[3], expected)


def test_face_crop_pads_outside_the_frame_with_110():
    frames = np.zeros((3, 100, 100, 3), np.uint8)
    crops = S.face_crops_for_sync(frames, backend=BoxBackend([0, 0, 40, 40]))
    # half 20, centre (20, 20): columns -8 .. 48 of 56 (the first 8 outside), rows 0 .. 56
    assert np.all(crops[1, :, :28] == 110) and np.all(crops[1, :, 36:] == 0)


def test_missing_face_names_the_frame():
    backend = BoxBackend([10, 10, 50, 50], missing={4})
    with pytest.raises(ValueError, match="no face found in video frame 4"):
        S.face_crops_for_sync(np.zeros((7, 64, 64, 3), np.uint8), backend=backend)


@pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")
def test_face_crops_with_mediapipe_on_a_real_face():
    pytest.importorskip("mediapipe")
    from skimage.data import astronaut
    face = astronaut()                              # landmark extent ~ (179, 71)-(271, 177)
    crops = S.face_crops_for_sync(np.stack([face, face]))
    assert crops.shape == (2, 224, 224, 3)
    expected = S.crop_face(face, 53.0, 225.0, 124.0)    # the protocol crop of that extent
    assert np.abs(crops[0].astype(float) - expected).mean() < 25
    with pytest.raises(ValueError, match="no face found in video frame 1"):
        S.face_crops_for_sync(np.stack([face, np.full_like(face, 128)]))
