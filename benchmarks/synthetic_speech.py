"""Synthetic speech -> motion data for `benchmarks/learning.py`.

Speech is synthesised with espeak-ng (https://github.com/espeak-ng/espeak-ng). espeak-ng is GPL-3.0:
it is NOT a dependency of Playmate and nothing of it is linked or shipped; the benchmark only runs the
`espeak-ng` command-line program (when installed, e.g. `apt-get install espeak-ng`) to synthesise test
audio into a temporary folder.

Motion targets are a FIXED function of the speech waveform (no learned or hand-made audio features
reach the model: it only sees the audio encoder's output of the waveform):

    mouth opening m_t in [0, 1]: RMS of the 300-3000 Hz band of the 16 kHz waveform per 25 fps frame
        (40 ms window centred on the frame), in dB relative to the utterance's peak, clipped to
        [-40, 0] dB, smoothed (~60 ms moving average) and mapped to [0, 1]
    lip exp (keypoints LIP_KEYPOINTS, 18 dims) = neutral + m_t * LIP_AMPLITUDE * lip_direction
    non-lip exp (45 dims) = neutral + e_t * the clip's emotion offset (one fixed random vector per
        label; clips without a label have none). e_t in [0, 1] is an on/off burst envelope (expressed
        1-2.5 s, neutral 0.5-1.5 s, 0.2 s ramps): a constant offset would be visible in every reference
        frame the trainer draws from the clip (f_id holds the reference exp), so stage 1 would already
        explain it and the stage-2 emotion module would get no signal to learn from.
    pitch / yaw / roll: a per-clip sum of three low-frequency sinusoids (0.1-0.6 Hz, a few degrees)
    t, scale: per-clip near-constants with a slow small drift
    plus small Gaussian noise on the exp (1e-3).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FPS = 25
SAMPLE_RATE = 16000
LIP_AMPLITUDE = 0.06           # norm of the lip exp offset at full opening (LivePortrait exp scale ~0.01-0.1)
EMOTION_AMPLITUDE = 0.04       # norm of each emotion's offset on the 45 non-lip exp dims
IDENTITY_AMPLITUDE = 0.015     # per-voice neutral exp offset (non-lip dims)
EXP_NOISE = 1e-3

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore every morning.",
    "A journey of a thousand miles begins with a single step.",
    "Please call Stella and ask her to bring these things with her.",
    "The rainbow is a division of white light into many beautiful colors.",
    "We will meet at the old station near the river at noon.",
    "My grandmother baked a warm apple pie for the whole family.",
    "Open the window and let the fresh air into the room.",
    "The children played football in the park until it was dark.",
    "Numbers like seven, eleven and forty two are easy to remember.",
    "Bright yellow lemons were piled high on the market stall.",
    "He opened the heavy door and walked into the quiet library.",
    "Music can change the mood of an entire evening.",
    "The pilot announced that we would land in twenty minutes.",
    "Can you believe how much the city has changed this year?",
    "Our teacher explained the problem slowly and patiently.",
    "A small boat drifted across the calm blue lake.",
    "Every winter the mountains are covered in deep white snow.",
    "The coffee was too hot, so I waited a moment before drinking.",
    "Robots are becoming more common in factories and homes.",
    "I would like a cup of tea with milk and no sugar.",
    "The museum displays paintings from many different centuries.",
    "Thunder rolled across the valley as the storm approached.",
    "Remember to water the plants while I am away on holiday.",
    "The orange cat slept all afternoon on the sunny windowsill.",
    "Fresh bread smells wonderful early in the morning.",
    "They built a tall tower out of wooden blocks and paper.",
    "Good news travels fast, but bad news travels even faster.",
    "The doctor said I should drink more water and sleep well.",
    "We counted the stars until we fell asleep on the grass.",
    "Aluminium, oxygen and hydrogen are common chemical elements.",
    "Wait here, I will be back in exactly five minutes.",
    # held-out sentences (never in training)
    "The violin player bowed deeply after the final note.",
    "How many apples are left in the basket on the table?",
    "A gentle breeze moved the tall grass along the road.",
    "Our neighbours are painting their house a pale green.",
    "The clock on the wall stopped at half past nine.",
    "Everyone laughed when the puppy stole the sandwich.",
    "Maybe tomorrow we can visit the island by ferry.",
    "Loud music echoed through the empty concert hall.",
]
TRAIN_SENTENCES = list(range(32))
TEST_SENTENCES = list(range(32, 40))
TRAIN_VOICES = ["en-us", "en-gb", "en-us+f3", "de", "fr-fr", "es"]
TEST_VOICES = ["en-gb-scotland+f2", "it"]


def espeak_available() -> str | None:
    return shutil.which("espeak-ng")


def synthesize(text: str, voice: str, speed: int, folder: Path, name: str) -> np.ndarray:
    """espeak-ng -> (S,) float32 mono at 16 kHz, peak-normalised to 0.9."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly
    path = folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True,
                   capture_output=True)
    rate, x = wavfile.read(path)
    x = x.astype(np.float32) / 32768.0
    if x.ndim == 2:
        x = x.mean(axis=1)
    g = np.gcd(rate, SAMPLE_RATE)
    x = resample_poly(x, SAMPLE_RATE // g, rate // g).astype(np.float32)
    return 0.9 * x / max(float(np.abs(x).max()), 1e-6)


def utterance(sentence_ids: list, voice: str, speed: int, folder: Path, name: str, pause_s: float,
              rng: np.random.Generator) -> np.ndarray:
    """Sentences joined by pauses, with 0.2-0.4 s of silence at both ends."""
    parts = [np.zeros(int(rng.uniform(0.2, 0.4) * SAMPLE_RATE), np.float32)]
    for k, s in enumerate(sentence_ids):
        parts.append(synthesize(SENTENCES[s], voice, speed, folder, f"{name}_{k}"))
        parts.append(np.zeros(int((pause_s if k < len(sentence_ids) - 1 else rng.uniform(0.2, 0.4))
                                  * SAMPLE_RATE), np.float32))
    return np.concatenate(parts)


def mouth_opening(wave: np.ndarray, n_frames: int, lo_hz: float = 300.0, hi_hz: float = 3000.0,
                  floor_db: float = 40.0, smooth_frames: int = 3) -> np.ndarray:
    """The fixed target: 300-3000 Hz band RMS per 25 fps frame -> dB re peak -> clip -> smooth -> [0, 1]."""
    win = SAMPLE_RATE // FPS * 1                                             # 640 samples = 40 ms
    hop = SAMPLE_RATE // FPS
    padded = np.pad(wave.astype(np.float64), (win // 2, win // 2 + win))
    frames = np.stack([padded[i * hop: i * hop + win] for i in range(n_frames)])      # N, win (centred)
    spec = np.abs(np.fft.rfft(frames * np.hanning(win), axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1.0 / SAMPLE_RATE)
    band = spec[:, (freqs >= lo_hz) & (freqs <= hi_hz)].mean(axis=1)
    db = 10 * np.log10(band + 1e-12)
    db = np.clip(db - db.max(), -floor_db, 0.0)
    kernel = np.ones(smooth_frames) / smooth_frames
    db = np.convolve(np.pad(db, (smooth_frames // 2, smooth_frames // 2), mode="edge"), kernel, mode="valid")
    return ((db + floor_db) / floor_db).astype(np.float32)


def emotion_envelope(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) in [0, 1]: alternating expressed (1-2.5 s) / neutral (0.5-1.5 s) segments, smoothed ~0.2 s."""
    e, on = np.zeros(n + 2 * FPS), bool(rng.integers(2))
    i = 0
    while i < len(e):
        length = int(FPS * (rng.uniform(1.0, 2.5) if on else rng.uniform(0.5, 1.5)))
        e[i:i + length] = float(on)
        i, on = i + length, not on
    k = np.ones(5) / 5
    return np.convolve(e, k, mode="same")[FPS:FPS + n]


@dataclass
class World:
    """The fixed random 'face': lip direction, emotion offsets, per-voice identity."""
    lip_direction: np.ndarray        # (63,) unit, non-zero on the lip dims only
    emotion_offsets: np.ndarray      # (8, 63), zero on the lip dims
    neutral: np.ndarray              # (63,)
    lip_dims: np.ndarray             # (18,) indices into exp
    seed: int

    @classmethod
    def make(cls, seed: int = 0) -> "World":
        from playmate_core.eval.motion_metrics import LIP_KEYPOINTS
        rng = np.random.default_rng(seed)
        lip_dims = np.array([3 * k + c for k in LIP_KEYPOINTS for c in range(3)])
        other = np.setdiff1d(np.arange(63), lip_dims)
        d = np.zeros(63)
        d[lip_dims] = rng.normal(size=len(lip_dims))
        d /= np.linalg.norm(d)
        emo = np.zeros((8, 63))
        emo[:, other] = rng.normal(size=(8, len(other)))
        emo *= EMOTION_AMPLITUDE / np.linalg.norm(emo, axis=1, keepdims=True)
        neutral = rng.normal(size=63) * 0.01
        return cls(d, emo, neutral, lip_dims, seed)

    def identity(self, voice: str) -> tuple:
        """(neutral exp (63,), canonical kp (21,3)) of a voice's 'person'."""
        rng = np.random.default_rng([self.seed, sum(map(ord, voice)) * 131 + len(voice)])
        other = np.setdiff1d(np.arange(63), self.lip_dims)
        off = np.zeros(63)
        off[other] = rng.normal(size=len(other))
        off *= IDENTITY_AMPLITUDE / np.linalg.norm(off)
        kp = rng.normal(size=(21, 3)) * 0.05 + np.random.default_rng(self.seed).normal(size=(21, 3)) * 0.2
        return self.neutral + off, kp.astype(np.float32)

    def motion(self, mouth: np.ndarray, voice: str, emotion: int | None, rng: np.random.Generator) -> np.ndarray:
        """(N,) mouth opening -> (N,70) raw motion (exp, pitch/yaw/roll degrees, t, scale)."""
        n = len(mouth)
        neutral, _ = self.identity(voice)
        exp = neutral[None] + mouth[:, None] * LIP_AMPLITUDE * self.lip_direction[None]
        if emotion is not None:
            exp = exp + emotion_envelope(n, rng)[:, None] * self.emotion_offsets[emotion][None]
        exp = exp + rng.normal(size=exp.shape) * EXP_NOISE
        t = np.arange(n) / FPS
        angles = np.zeros((n, 3))
        for j in range(3):
            for _ in range(3):
                f, a, ph = rng.uniform(0.1, 0.6), rng.uniform(0.5, 3.0), rng.uniform(0, 2 * np.pi)
                angles[:, j] += a * np.sin(2 * np.pi * f * t + ph)
            angles[:, j] += rng.normal() * 2.0
        drift = np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.3))
        trans = np.array([0.01, -0.02, 0.0])[None] + rng.normal(size=3)[None] * 0.005 + 0.003 * drift[:, None]
        scale = (1.0 + rng.normal() * 0.02 + 0.005 * drift)[:, None]
        return np.concatenate([exp, angles, trans, scale], axis=1).astype(np.float32)

    def source_vector(self, voice: str) -> np.ndarray:
        """Neutral frame of the voice's person: closed mouth, no emotion, head straight (70,)."""
        neutral, _ = self.identity(voice)
        return np.concatenate([neutral, [0, 0, 0, 0.01, -0.02, 0.0, 1.0]]).astype(np.float32)


def temp_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="playmate_speech_"))
