"""Frozen speech encoder a_i of Playmate's audio branch (paper §3.2; `motion-model.md` §2.2-2.3).

`AudioEncoder.encode(waveform16k, fps)` -> (N, L, D) float32: for each of the N = ceil(duration * fps)
video frames, the hidden states of transformer layers 1..L (hidden_states[1:], not the CNN/embedding
output) of a wav2vec2 (or HuBERT) model, D = hidden size (768 for wav2vec2-base-960h, L = 12).

Layer weighting: this module returns all L layers. The learned softmax weights over layers belong to the
motion model's Proj_a (`motion-model.md` §2.2: softmax-weighted sum of layers 1..L -> +-2-frame window ->
LN -> MLP), so they train with it and live in its checkpoint; nothing here is trainable.

Pipeline: per-utterance z-normalisation (`io.normalize_waveform`) -> pad 40 samples in front and
silence at the back so the CNN gives exactly M native 50 Hz frames (M = 2N at 25 fps) -> encoder at its
native rate over the whole utterance -> native frames mapped to video frames (`align`: pair
averaging at 25 fps).

Long audio runs in chunks of `chunk_seconds` (20 s) with `context_seconds` (2 s) of real audio on each
side. The first CNN layer's GroupNorm normalises over time, so before chunking its statistics are taken
over the whole utterance (one cheap conv pass) and frozen for every chunk: the CNN output then equals
the single pass (1e-6). What remains is attention that cannot see past the context. Tolerance, measured
on the tiny random model (near-uniform attention, the worst case) for 4 s in 1 s chunks: max abs error
0.34 % of the feature std with 0.5 s context, 0.2 % with 1-2 s (tests/audio/test_encoder.py asserts < 1 %).
Without the frozen GroupNorm statistics the error was 30 %.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from .align import native_frames_needed, pad_for_native_frames, video_frame_weights
from ..timebase import fps_fraction, frame_count
from .io import SAMPLE_RATE, check_duration, normalize_waveform
from ..loading import CheckpointError, describe_read_error

log = logging.getLogger("playmate")

ENCODER_SOURCE = "https://huggingface.co/facebook/wav2vec2-base-960h (Apache-2.0)"
CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
SUPPORTED_TYPES = ("wav2vec2", "hubert")      # config.json "model_type"
TINY_CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                   conv_dim=(32,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                   num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, vocab_size=32)
CHUNK_SECONDS = 20.0          # long audio is encoded in chunks of this length ...
CONTEXT_SECONDS = 2.0         # ... with this much real audio on each side (motion-model.md §2.3: >= 2 s)
ENCODER_PRESETS = {"tiny": TINY_CONFIG, "base": {}}   # "base" = Wav2Vec2Config() = wav2vec2-base layout


def _model_class(model_type: str):
    from transformers import HubertModel, Wav2Vec2Model
    classes = {"wav2vec2": Wav2Vec2Model, "hubert": HubertModel}
    if model_type not in classes:
        raise ValueError(f"config.json has model_type '{model_type}'; the audio encoder supports "
                         f"{', '.join(SUPPORTED_TYPES)} (e.g. {ENCODER_SOURCE}).")
    return classes[model_type]


def _missing_files_error(folder: Path, what: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"Audio encoder folder '{folder}': {what}. Expected a Hugging Face model folder with {CONFIG_FILE} and "
        f"model.safetensors (or pytorch_model.bin), e.g. wav2vec2-base-960h from {ENCODER_SOURCE}, placed in "
        f"ComfyUI/models/audio_encoders/ or models/playmate/. Nothing is downloaded automatically.")


def folder_identity(folder: Path) -> str:
    """sha256 of config.json plus name, size and mtime of each weights file (cheap, changes on re-download)."""
    h = hashlib.sha256((folder / CONFIG_FILE).read_bytes())
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            st = (folder / name).stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def module_identity(model: nn.Module) -> str:
    """sha256 of the config and every parameter/buffer (for models built in memory)."""
    h = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def _cnn_geometry(config) -> tuple[int, int]:
    """(hop, receptive field) in samples from the conv strides and kernels: (320, 400) for wav2vec2."""
    hop, rf = 1, 1
    for k, s in zip(config.conv_kernel, config.conv_stride):
        rf += (k - 1) * hop
        hop *= s
    if (rf - hop) % 2:
        raise ValueError(f"CNN receptive field {rf} minus hop {hop} is odd; cannot centre native frames.")
    return hop, rf


class _FixedStatsGroupNorm(nn.Module):
    """GroupNorm with precomputed per-group statistics (those of the whole utterance), for chunked runs."""

    def __init__(self, norm: nn.GroupNorm, mean: torch.Tensor, var: torch.Tensor):
        super().__init__()
        self.norm, self.mean, self.var = norm, mean, var       # (G,), (G,) float64

    def forward(self, y: torch.Tensor) -> torch.Tensor:       # (1, C, T)
        g = self.norm.num_groups
        z = y.double().view(y.shape[0], g, -1, y.shape[-1])    # (1, G, C/G, T)
        z = (z - self.mean.view(1, g, 1, 1)) / torch.sqrt(self.var.view(1, g, 1, 1) + self.norm.eps)
        z = z.view_as(y).to(y.dtype)
        return z * self.norm.weight.view(1, -1, 1) + self.norm.bias.view(1, -1, 1)


class AudioEncoder(nn.Module):
    """Frozen wav2vec2/HuBERT wrapper: waveform (S,) at 16 kHz -> per-video-frame layer features (N, L, D).

    Construction only wraps `model` (H5); use `AudioEncoder.from_pretrained(folder)` to read weights.
    `identity` names the weights for feature caches; `normalize` applies `normalize_waveform` in `encode`
    (on by default, as wav2vec2-base-960h's feature extractor; record it with trained motion models).
    """

    def __init__(self, model: nn.Module, *, identity: str | None = None, normalize: bool = True):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.normalize = normalize
        self.hop, self.receptive_field = _cnn_geometry(model.config)
        self.num_layers = model.config.num_hidden_layers       # L
        self.hidden_size = model.config.hidden_size            # D
        self._identity = identity

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32, normalize: bool = True) -> "AudioEncoder":
        """Load a local Hugging Face folder (wav2vec2 or HuBERT; base model or a CTC checkpoint)."""
        folder = Path(folder)
        if folder.is_file():
            raise _missing_files_error(folder, "this is a file, not a folder")
        if not folder.is_dir():
            raise _missing_files_error(folder, "the folder does not exist")
        if not (folder / CONFIG_FILE).is_file():
            raise _missing_files_error(folder, f"{CONFIG_FILE} is missing")
        if not any((folder / name).is_file() for name in WEIGHT_FILES):
            raise _missing_files_error(folder, f"no weights file ({', '.join(WEIGHT_FILES)})")
        model_type = json.loads((folder / CONFIG_FILE).read_text()).get("model_type", "?")
        try:
            model, info = _model_class(model_type).from_pretrained(   # no dtype kwarg: its name changed in 4.56
                str(folder), local_files_only=True, output_loading_info=True)
        except Exception as exc:  # noqa: BLE001 - torch, safetensors and pickle each raise their own type here
            raise CheckpointError(f"Audio encoder '{folder.name}': cannot read its weights ({describe_read_error(exc)}); "
                                  f"the weights file is truncated, corrupt or not a {model_type} "
                                  f"model. Download the folder again from {ENCODER_SOURCE}.") from exc
        missing = sorted(k for k in info["missing_keys"] if "masked_spec_embed" not in k)  # training-only
        if missing:
            raise CheckpointError(f"Audio encoder '{folder}' is missing {len(missing)} weight(s), first "
                                  f"'{missing[0]}'; the files are incomplete or not a {model_type} model. "
                                  f"Download the folder again from {ENCODER_SOURCE}.")
        log.info("audio encoder: %s (%s, %d layers, width %d)", folder, model_type,
                 model.config.num_hidden_layers, model.config.hidden_size)
        return cls(model.to(device, dtype), identity=f"{model_type}:{folder_identity(folder)}", normalize=normalize)

    @property
    def identity(self) -> str:
        """Stable id of the weights (folder: config hash + file sizes/mtimes; in memory: tensor hash)."""
        if self._identity is None:
            self._identity = f"{self.model.config.model_type}:{module_identity(self.model)}"
        dtype = next(self.model.parameters()).dtype
        return f"{self._identity}:norm={int(self.normalize)}:{str(dtype).removeprefix('torch.')}"

    def train(self, mode: bool = True) -> "AudioEncoder":
        """The encoder stays frozen in eval mode (no dropout, no SpecAugment), even inside a training model."""
        return super().train(False)

    def _first_norm_stats(self, x_pad: torch.Tensor, piece: int = 80_000) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole-utterance (mean, var) per group of the first CNN layer's GroupNorm, streamed in pieces."""
        layer = self.model.feature_extractor.conv_layers[0]
        conv, g = layer.conv, layer.layer_norm.num_groups
        k, st = conv.kernel_size[0], conv.stride[0]
        p = next(self.model.parameters())
        total = (x_pad.shape[0] - k) // st + 1                  # conv output length T0
        acc = torch.zeros(3, g, dtype=torch.float64)            # count, sum, sum of squares
        step = piece // st
        for t0 in range(0, total, step):
            t1 = min(total, t0 + step)
            y = conv(x_pad[st * t0: st * (t1 - 1) + k][None, None].to(p.device, p.dtype))   # (1, C, t1 - t0)
            y = y.view(g, -1)                                   # (G, C/G * (t1 - t0))
            acc += torch.stack([torch.full((g,), y.shape[1], dtype=torch.float64),
                                y.sum(1, dtype=torch.float64).cpu(), (y * y).sum(1, dtype=torch.float64).cpu()])
        mean = acc[1] / acc[0]
        return mean.to(p.device), (acc[2] / acc[0] - mean * mean).clamp(min=0).to(p.device)

    def _native_features(self, x_pad: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """Layers 1..L for native frames [start, end) of the padded waveform -> (end - start, L, D)."""
        p = next(self.model.parameters())
        seg = x_pad[self.hop * start: self.hop * end + self.receptive_field - self.hop]
        out = self.model(seg[None].to(p.device, p.dtype), output_hidden_states=True)
        return torch.stack(out.hidden_states[1:], dim=2)[0]    # (1, F, L, D) -> (F, L, D)

    @torch.inference_mode()
    def encode(self, waveform16k: torch.Tensor, fps: float = 25.0, *,
               chunk_seconds: float | None = CHUNK_SECONDS, context_seconds: float = CONTEXT_SECONDS) -> torch.Tensor:
        """waveform16k (S,) float at 16 kHz (see `prepare_waveform`) -> (N, L, D) float32 on the model's device.

        N = ceil(S / 16000 * fps) exactly, for any fps > 0. Audio longer than `chunk_seconds` (None: never)
        is encoded in chunks with `context_seconds` of context on each side.
        """
        if waveform16k.dim() != 1:
            raise ValueError(f"encode expects a 16 kHz mono waveform (S,), got shape {tuple(waveform16k.shape)}; "
                             f"convert it with prepare_waveform(waveform, sample_rate).")
        check_duration(waveform16k.shape[0], fps)
        n_frames = frame_count(waveform16k.shape[0], fps, SAMPLE_RATE)                          # N
        num_native = native_frames_needed(n_frames, fps, self.hop)                       # M (2N at 25 fps)
        x = normalize_waveform(waveform16k) if self.normalize else waveform16k.float()
        x_pad = pad_for_native_frames(x.cpu(), num_native, self.hop, self.receptive_field)
        video, native, weight = video_frame_weights(n_frames, fps, num_native, self.hop)
        device = next(self.model.parameters()).device
        out = torch.zeros(n_frames, self.num_layers, self.hidden_size, device=device)  # (N, L, D)
        rate = SAMPLE_RATE / self.hop                                                     # 50 Hz
        chunk = num_native if chunk_seconds is None else max(1, math.ceil(chunk_seconds * rate))
        context = max(0, math.ceil(context_seconds * rate))
        layer0 = self.model.feature_extractor.conv_layers[0]
        group_norm = chunk < num_native and isinstance(getattr(layer0, "layer_norm", None), nn.GroupNorm)
        if group_norm:   # GroupNorm normalises over time: give every chunk the whole utterance's statistics
            layer0.layer_norm = _FixedStatsGroupNorm(layer0.layer_norm, *self._first_norm_stats(x_pad))
        try:
            for a in range(0, num_native, chunk):
                b = min(num_native, a + chunk)
                s, e = max(0, a - context), min(num_native, b + context)
                h = self._native_features(x_pad, s, e)[a - s: b - s].float()             # (b - a, L, D)
                sel = (native >= a) & (native < b)
                scaled = h[native[sel] - a] * weight[sel].to(device, torch.float32)[:, None, None]
                out.index_add_(0, video[sel].to(device), scaled)
        finally:
            if group_norm:
                layer0.layer_norm = layer0.layer_norm.norm
        log.debug("audio features: %.2f s at %g fps -> %s (%d native frames)", waveform16k.shape[0] / SAMPLE_RATE,
                  float(fps_fraction(fps)), tuple(out.shape), num_native)
        return out


def build_random_encoder(preset: str = "tiny", seed: int = 0) -> nn.Module:
    """A randomly initialised `Wav2Vec2Model` for tests and benchmarks (never downloads).

    "tiny": hidden 32, 2 layers, 2 heads, FFN 64, conv_dim 32 x 7 (43,312 parameters).
    "base": the wav2vec2-base architecture (transformers' default `Wav2Vec2Config()`: 768, 12 layers,
    12 heads, FFN 3072, conv_dim 512 x 7; ~94 M parameters).
    """
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    if preset not in ENCODER_PRESETS:
        raise ValueError(f"Unknown audio encoder preset '{preset}'; choose one of {sorted(ENCODER_PRESETS)}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Wav2Vec2Model(Wav2Vec2Config(**ENCODER_PRESETS[preset])).eval()


def encoder_seconds_per_audio_second(encoder: AudioEncoder | nn.Module, seconds: float = 10.0,
                                     repeats: int = 3, fps: float = 25.0) -> float:
    """Median wall time of `encode` per second of audio (one warm-up on 1 s first; random noise input)."""
    if not isinstance(encoder, AudioEncoder):
        encoder = AudioEncoder(encoder, identity="benchmark")
    g = torch.Generator().manual_seed(0)
    encoder.encode(torch.randn(SAMPLE_RATE, generator=g), fps)
    wave = torch.randn(int(seconds * SAMPLE_RATE), generator=g) * 0.1                  # (S,)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        encoder.encode(wave, fps)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / seconds
