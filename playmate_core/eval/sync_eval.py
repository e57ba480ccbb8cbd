"""Sync-C / Sync-D: the SyncNet evaluation protocol (joonson/syncnet_python, ``SyncNetInstance.evaluate``).

Inputs: T face crops (T, 224, 224, 3) uint8 RGB at 25 fps and the mono audio track.

1. Audio -> 16 kHz (``resample_poly``) -> 16-bit PCM values (x * 32768, rounded, clipped), as the
   protocol's ``ffmpeg -ar 16000 -acodec pcm_s16le`` + ``wavfile.read`` give -> MFCC (13, M), 100 Hz
   (:mod:`.mfcc`).
2. L = min(T, floor(S_16k / 640)) usable frames (640 samples = one 25 fps frame); windows start at
   t = 0 .. L - 6 (the protocol stops at L - 5, one window short of the last possible one):
   visual window t = frames t..t+4, RGB flipped to BGR (the model saw OpenCV frames), values 0..255,
   (B, 3, 5, 224, 224); audio window t = MFCC columns 4t .. 4t+19, (B, 1, 13, 20).
3. Embeddings v_t, a_t (N, 1024) with N = L - 5.
4. Offset search (:func:`offset_distances`): a is padded with ``vshift`` zero rows at both ends (a_p)
   and, for every shift j in 0..2*vshift,
       D[t, j] = || v_t - a_p[t + j] + 1e-6 ||_2    (``torch.pairwise_distance``'s eps)
   i.e. video frame t against audio frame t + j - vshift (a zero vector past either end).
5. (:func:`sync_from_distances`) d_j = mean_t D[t, j]   (2*vshift+1,)
       offset = vshift - argmin_j d_j     (> 0: the picture lags the sound by that many frames)
       Sync-D = min_j d_j                  lower is better
       Sync-C = median_j d_j - min_j d_j   higher is better

Face crops (:func:`face_crops_for_sync`) follow the protocol's crop geometry (``run_pipeline.py``
``crop_video``): half-size s = max(box w, box h) / 2 and the box centre, each median-filtered over
time (kernel 13, ``scipy.signal.medfilt``, zero-padded ends as in the protocol; clips shorter
than 13 frames use the largest odd kernel <= T); crop rows cy - s .. cy + 1.8 s, columns
cx - 1.4 s .. cx + 1.4 s (crop scale 0.4, lower face emphasised), outside pixels 110, resized to
224 x 224 (bilinear). Differences from the original pipeline:

* boxes are the project's MediaPipe FaceMesh landmark extent (``playmate_core.crop``), not S3FD
  detections; the two boxes differ in size and vertical centre, so crops are scaled and shifted a
  little relative to the crops SyncNet was evaluated on;
* one track per video: the largest face in each frame (no IoU tracking, scene cuts, 100-frame
  minimum track or 100 px minimum face size); a frame without a face is an error, not interpolated;
* crops are scored directly, not re-encoded through an XVID .avi, and audio is resampled with
  ``resample_poly`` rather than ffmpeg's resampler.
"""
from __future__ import annotations

import logging
import math

import cv2
import numpy as np
import torch
from scipy.signal import medfilt, resample_poly

from .mfcc import MfccConfig, mfcc

log = logging.getLogger("playmate")

SYNC_FPS = 25.0
AUDIO_RATE = 16000
SAMPLES_PER_FRAME = 640          # 16000 / 25
MFCC_PER_FRAME = 4               # 100 Hz MFCC / 25 fps
LIP_FRAMES = 5
MFCC_FRAMES = 20
MIN_FRAMES = LIP_FRAMES + 1      # the protocol drops one window: N = L - 5 must be >= 1
PAIR_EPS = 1e-6                  # torch.nn.functional.pairwise_distance default eps
PCM_SCALE = 32768.0
MAX_AUDIO_SHORTFALL_S = 0.2      # audio this much shorter than the video is an input error
CROP_SIZE = 224
CROP_SCALE = 0.40
BOX_MEDIAN_KERNEL = 13
CROP_PAD_VALUE = 110


# ---------------------------------------------------------------- face crops

def smooth_boxes(boxes: np.ndarray) -> np.ndarray:
    """(T, 4) x0, y0, x1, y1 -> (T, 3) half-size, centre x, centre y, each median-filtered over time."""
    boxes = np.asarray(boxes, dtype=np.float64)
    half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    # Clips shorter than the kernel get the largest odd kernel <= T, so the zero padding never
    # outnumbers the real values (with kernel 13 and T <= 6 every median would be 0).
    kernel = min(BOX_MEDIAN_KERNEL, len(boxes) - (1 - len(boxes) % 2))
    return np.stack([medfilt(v, kernel) for v in (half, cx, cy)], axis=1)


def crop_face(frame: np.ndarray, half: float, cx: float, cy: float) -> np.ndarray:
    """(H, W, 3) uint8 -> (224, 224, 3) uint8 crop around one smoothed box (module docstring)."""
    border = int(half * (1 + 2 * CROP_SCALE))
    padded = cv2.copyMakeBorder(frame, border, border, border, border, cv2.BORDER_CONSTANT,
                                value=(CROP_PAD_VALUE,) * 3)
    my, mx = cy + border, cx + border
    face = padded[int(my - half):int(my + half * (1 + 2 * CROP_SCALE)),
                  int(mx - half * (1 + CROP_SCALE)):int(mx + half * (1 + CROP_SCALE))]
    if face.size == 0:
        raise ValueError(f"empty face crop (box half-size {half:.1f} px at ({cx:.1f}, {cy:.1f})).")
    return cv2.resize(face, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)


def face_crops_for_sync(frames: np.ndarray, *, backend=None) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB video frames -> (T, 224, 224, 3) uint8 RGB SyncNet face crops.

    ``backend``: a ``playmate_core.crop`` landmark backend (default: a MediaPipe one, closed
    afterwards). Raises ValueError naming the first frame in which no face is found.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"face_crops_for_sync expects uint8 (T, H, W, 3) RGB frames, got "
                         f"{frames.dtype} {frames.shape}.")
    own_backend = backend is None
    if own_backend:
        from playmate_core.crop import make_backend
        backend = make_backend("mediapipe")
    try:
        boxes = []
        for index, frame in enumerate(frames):
            faces = backend.detect(np.ascontiguousarray(frame))
            if not faces:
                raise ValueError(
                    f"no face found in video frame {index} (0-based, of {len(frames)}); Sync-C/Sync-D "
                    f"need a visible face in every frame: trim the clip or check the video.")
            boxes.append(faces[0].box)                     # largest face first
    finally:
        if own_backend:
            backend.close()
    track = smooth_boxes(np.stack(boxes))                  # (T, 3)
    return np.stack([crop_face(f, *row) for f, row in zip(frames, track)])


# ---------------------------------------------------------------- audio

def to_pcm16_16k(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float waveform in [-1, 1] (or int16 PCM) -> (S,) float64 int16 sample values at 16 kHz."""
    wav = np.asarray(waveform)
    if wav.ndim == 2 and 1 in wav.shape:
        wav = wav.reshape(-1)
    if wav.ndim != 1:
        raise ValueError(f"waveform must be mono (S,) or (1, S), got shape {wav.shape}; mix it down first.")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate}.")
    if np.issubdtype(wav.dtype, np.integer) and wav.dtype != np.int16:
        raise ValueError(f"integer audio must be int16 PCM, got {wav.dtype}; pass floats in [-1, 1].")
    scale = 1.0 if wav.dtype == np.int16 else PCM_SCALE
    x = wav.astype(np.float64) * scale
    if sample_rate != AUDIO_RATE:
        g = math.gcd(int(sample_rate), AUDIO_RATE)
        x = resample_poly(x, AUDIO_RATE // g, int(sample_rate) // g)
    return np.clip(np.rint(x), -PCM_SCALE, PCM_SCALE - 1)


def usable_frames(n_video: int, n_samples: int) -> int:
    """L = min(T, floor(S / 640)) frames the protocol scores, or a ValueError naming the fix."""
    n_audio = n_samples // SAMPLES_PER_FRAME
    if n_video < MIN_FRAMES:
        raise ValueError(f"Sync-C/Sync-D need at least {MIN_FRAMES} video frames at {SYNC_FPS:g} fps "
                         f"({LIP_FRAMES}-frame window + 1), got {n_video}; pass a longer clip.")
    shortfall_s = (n_video - n_audio) / SYNC_FPS
    if shortfall_s > MAX_AUDIO_SHORTFALL_S or n_audio < MIN_FRAMES:
        raise ValueError(f"audio covers {n_samples / AUDIO_RATE:.3f} s but the video {n_video / SYNC_FPS:.3f} s "
                         f"({n_video} frames at {SYNC_FPS:g} fps); pass the full audio track of this video "
                         f"(or trim the video to the audio).")
    if n_audio != n_video:
        log.warning("Sync eval: audio (%.3f s) and video (%.3f s) lengths differ; scoring the first %d "
                    "frames", n_samples / AUDIO_RATE, n_video / SYNC_FPS, min(n_video, n_audio))
    return min(n_video, n_audio)


# ---------------------------------------------------------------- windows

def lip_windows(faces: np.ndarray, starts: np.ndarray) -> torch.Tensor:
    """(T, 224, 224, 3) uint8 RGB, (B,) starts -> (B, 3, 5, 224, 224) float32 BGR 0..255."""
    index = np.asarray(starts)[:, None] + np.arange(LIP_FRAMES)        # (B, 5)
    clips = faces[index][..., ::-1]                                    # (B, 5, H, W, 3) BGR
    return torch.from_numpy(np.ascontiguousarray(clips)).float().permute(0, 4, 1, 2, 3)


def mfcc_windows(mfcc_t: np.ndarray, starts: np.ndarray) -> torch.Tensor:
    """(13, M) MFCCs, (B,) starts -> (B, 1, 13, 20) float32: columns 4t .. 4t+19."""
    starts = np.asarray(starts)
    if len(starts) and MFCC_PER_FRAME * starts.max() + MFCC_FRAMES > mfcc_t.shape[1]:
        raise ValueError(f"audio window at frame {starts.max()} needs MFCC column "
                         f"{MFCC_PER_FRAME * starts.max() + MFCC_FRAMES - 1}, only {mfcc_t.shape[1]} exist.")
    index = MFCC_PER_FRAME * starts[:, None] + np.arange(MFCC_FRAMES)  # (B, 20)
    windows = mfcc_t[:, index].transpose(1, 0, 2)                      # (B, 13, 20)
    return torch.from_numpy(np.ascontiguousarray(windows)).float().unsqueeze(1)


@torch.inference_mode()
def embed_windows(model, faces: np.ndarray, mfcc_t: np.ndarray, n_windows: int, *, batch: int,
                  device) -> tuple[np.ndarray, np.ndarray]:
    """Windows 0..n_windows-1 through the model -> ((N, D) lip, (N, D) audio) float32 embeddings."""
    lips, auds = [], []
    for first in range(0, n_windows, batch):
        starts = np.arange(first, min(first + batch, n_windows))
        lips.append(model.embed_lip(lip_windows(faces, starts).to(device)).float().cpu())
        auds.append(model.embed_audio(mfcc_windows(mfcc_t, starts).to(device)).float().cpu())
    return torch.cat(lips).numpy(), torch.cat(auds).numpy()


# ---------------------------------------------------------------- offset search

def offset_distances(video_emb: np.ndarray, audio_emb: np.ndarray, vshift: int) -> np.ndarray:
    """(N, D) video and (N, D) audio embeddings -> (N, 2*vshift+1) distances D[t, j] (docstring, step 4)."""
    v = np.asarray(video_emb, dtype=np.float32)
    a = np.asarray(audio_emb, dtype=np.float32)
    if v.shape != a.shape or v.ndim != 2:
        raise ValueError(f"embeddings must both be (N, D), got {v.shape} and {a.shape}.")
    n = len(v)
    padded = np.concatenate([np.zeros((vshift, v.shape[1]), v.dtype), a,
                             np.zeros((vshift, v.shape[1]), v.dtype)])  # (N + 2 vshift, D)
    dists = np.empty((n, 2 * vshift + 1), np.float32)
    for j in range(2 * vshift + 1):
        dists[:, j] = np.linalg.norm(v - padded[j:j + n] + PAIR_EPS, axis=1)
    return dists


def sync_from_distances(dists: np.ndarray, vshift: int) -> dict:
    """(N, 2*vshift+1) distances -> offset, Sync-D, Sync-C and the mean curve (docstring, step 5)."""
    curve = np.asarray(dists, dtype=np.float64).mean(axis=0)          # (2 vshift + 1,)
    if curve.shape != (2 * vshift + 1,):
        raise ValueError(f"expected {2 * vshift + 1} offsets, got a curve of shape {curve.shape}.")
    best = int(np.argmin(curve))
    return {"offset": vshift - best, "sync_d": float(curve[best]),
            "sync_c": float(np.median(curve) - curve[best]), "dists": curve}


def sync_scores(model, faces: np.ndarray, waveform: np.ndarray, sample_rate: int, *, vshift: int = 15,
                batch: int = 20, device="cpu") -> dict:
    """Sync-C / Sync-D of one clip (module docstring); the model is put in eval mode on ``device``.

    Args:
        faces: (T, 224, 224, 3) uint8 RGB face crops at 25 fps (see :func:`face_crops_for_sync`).
        waveform: mono audio, float in [-1, 1] (or int16), at ``sample_rate``.
    Returns:
        {"offset": int frames, "sync_d": float, "sync_c": float, "dists": (2*vshift+1,) mean curve}.
    """
    faces = np.asarray(faces)
    if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
        raise ValueError(f"faces must be uint8 (T, {CROP_SIZE}, {CROP_SIZE}, 3) crops, got {faces.dtype} "
                         f"{faces.shape}; make them with face_crops_for_sync(frames).")
    if int(vshift) != vshift or vshift < 0 or int(batch) != batch or batch < 1:
        raise ValueError(f"vshift must be an integer >= 0 and batch >= 1, got vshift={vshift}, batch={batch}.")
    pcm = to_pcm16_16k(waveform, sample_rate)
    n_windows = usable_frames(len(faces), len(pcm)) - LIP_FRAMES
    mfcc_t = mfcc(pcm, MfccConfig()).T.astype(np.float32)              # (13, M)
    model = model.to(device).eval()
    video_emb, audio_emb = embed_windows(model, faces, mfcc_t, n_windows, batch=int(batch), device=device)
    return sync_from_distances(offset_distances(video_emb, audio_emb, int(vshift)), int(vshift))
