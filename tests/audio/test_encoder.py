"""AudioEncoder on tiny random wav2vec2/HuBERT models: shapes, alignment, chunking, loading, errors."""
import json

import pytest
import torch

from playmate_core.audio.align import pad_for_native_frames
from playmate_core.audio.encoder import (AudioEncoder, build_random_encoder, encoder_seconds_per_audio_second)
from playmate_core.audio.io import normalize_waveform
from playmate_core.loading import CheckpointError


@pytest.fixture(scope="module")
def tiny():
    return AudioEncoder(build_random_encoder("tiny", seed=0))


def speech_like(seconds: float, seed: int = 0) -> torch.Tensor:
    """Noise under a 5 Hz syllable-rate envelope with pauses: (S,) at 16 kHz."""
    g = torch.Generator().manual_seed(seed)
    s = int(round(seconds * 16000))
    env = torch.sin(torch.arange(s) / 16000 * 2 * torch.pi * 2.5).abs()
    return torch.randn(s, generator=g) * env * 0.1


def test_tiny_preset_and_frozen(tiny):
    assert sum(p.numel() for p in tiny.parameters()) == 43_312
    assert (tiny.num_layers, tiny.hidden_size, tiny.hop, tiny.receptive_field) == (2, 32, 320, 400)
    assert not any(p.requires_grad for p in tiny.parameters())
    tiny.train()
    assert not tiny.training and not tiny.model.training


@pytest.mark.parametrize("fps", [25, 30, 24, 12.5, 60])
@pytest.mark.parametrize("seconds", [1.003, 0.5, 2.0])
def test_exact_frame_count(tiny, fps, seconds):
    wave = speech_like(seconds)
    out = tiny.encode(wave, fps)
    n = -(-wave.shape[0] * int(fps * 2) // (16000 * 2))            # ceil(S / 16000 * fps), exact
    assert out.shape == (n, 2, 32) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_25fps_equals_pair_averaging_of_native_frames(tiny):
    wave = speech_like(1.2)                                        # 19200 samples = 30 frames
    out = tiny.encode(wave, 25.0)                                  # (30, L, D)
    padded = pad_for_native_frames(normalize_waveform(wave), 60)   # 40 samples each side
    with torch.inference_mode():
        hs = tiny.model(padded[None], output_hidden_states=True).hidden_states
    native = torch.stack(hs[1:], dim=2)[0]                         # layers 1..L: (60, L, D)
    assert native.shape == (60, 2, 32)
    torch.testing.assert_close(out, native.view(30, 2, 2, 32).mean(1), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[:, -1], native.view(30, 2, 2, 32).mean(1)[:, -1])   # last = last_hidden


def test_gain_does_not_matter_but_silence_is_finite(tiny):
    wave = speech_like(1.0)
    torch.testing.assert_close(tiny.encode(wave), tiny.encode(wave * 7.0), rtol=1e-4, atol=1e-4)
    assert torch.isfinite(tiny.encode(torch.zeros(16000))).all()


def test_chunked_long_audio_matches_single_pass(tiny):
    wave = speech_like(4.0, seed=1)
    full = tiny.encode(wave, 25.0, chunk_seconds=None)             # (100, L, D)
    scale = float(full.std())
    chunked = tiny.encode(wave, 25.0, chunk_seconds=1.0, context_seconds=0.5)
    assert float((chunked - full).abs().max()) < 0.01 * scale      # measured 0.3 % (docstring)
    wide = tiny.encode(wave, 25.0, chunk_seconds=1.0, context_seconds=10.0)   # context spans everything
    assert float((wide - full).abs().max()) < 1e-5 * scale * 10
    assert tiny.model.feature_extractor.conv_layers[0].layer_norm.__class__ is torch.nn.GroupNorm  # restored
    odd = tiny.encode(wave[:-123], 30.0, chunk_seconds=0.7, context_seconds=0.5)
    torch.testing.assert_close(odd, tiny.encode(wave[:-123], 30.0, chunk_seconds=None), rtol=0,
                               atol=0.01 * scale)


def test_input_errors(tiny):
    with pytest.raises(ValueError, match="shorter than one video frame"):
        tiny.encode(torch.zeros(600), 25.0)
    with pytest.raises(ValueError, match="prepare_waveform"):
        tiny.encode(torch.zeros(2, 16000), 25.0)


def test_missing_folder_lists_the_expected_files(tmp_path):
    for target, what in [(tmp_path / "nope", "does not exist"), (tmp_path, "config.json is missing")]:
        with pytest.raises(FileNotFoundError, match=what) as err:
            AudioEncoder.from_pretrained(target)
        msg = str(err.value)
        assert "config.json" in msg and "model.safetensors" in msg and "pytorch_model.bin" in msg
        assert "huggingface.co/facebook/wav2vec2-base-960h" in msg and "Apache-2.0" in msg
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no weights file"):
        AudioEncoder.from_pretrained(tmp_path)


def test_save_pretrained_round_trip(tmp_path, tiny):
    tiny.model.save_pretrained(tmp_path / "w2v")
    loaded = AudioEncoder.from_pretrained(tmp_path / "w2v")
    wave = speech_like(0.8)
    torch.testing.assert_close(loaded.encode(wave), tiny.encode(wave), rtol=0, atol=0)
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.model.training
    assert loaded.identity.startswith("wav2vec2:") and loaded.identity != tiny.identity


def test_ctc_checkpoint_loads_as_base_model(tmp_path, tiny):
    """wav2vec2-base-960h is saved as Wav2Vec2ForCTC: the lm_head is dropped, the encoder is kept."""
    from transformers import Wav2Vec2ForCTC

    ctc = Wav2Vec2ForCTC(tiny.model.config)
    ctc.wav2vec2.load_state_dict(tiny.model.state_dict())
    ctc.save_pretrained(tmp_path / "ctc")
    loaded = AudioEncoder.from_pretrained(tmp_path / "ctc")
    wave = speech_like(0.5)
    torch.testing.assert_close(loaded.encode(wave), tiny.encode(wave), rtol=0, atol=0)


def test_hubert_folder(tmp_path):
    from transformers import HubertConfig, HubertModel

    from playmate_core.audio.encoder import TINY_CONFIG

    torch.manual_seed(0)
    HubertModel(HubertConfig(**TINY_CONFIG)).save_pretrained(tmp_path / "hubert")
    enc = AudioEncoder.from_pretrained(tmp_path / "hubert")
    assert type(enc.model).__name__ == "HubertModel" and enc.identity.startswith("hubert:")
    assert enc.encode(speech_like(0.5), 25.0).shape == (13, 2, 32)


def test_unsupported_or_incomplete_folder(tmp_path, tiny):
    tiny.model.save_pretrained(tmp_path / "w")
    cfg = json.loads((tmp_path / "w" / "config.json").read_text())
    (tmp_path / "w" / "config.json").write_text(json.dumps({**cfg, "model_type": "whisper"}))
    with pytest.raises(ValueError, match="supports wav2vec2, hubert"):
        AudioEncoder.from_pretrained(tmp_path / "w")
    from safetensors.torch import load_file, save_file

    tiny.model.save_pretrained(tmp_path / "partial")
    state = load_file(str(tmp_path / "partial" / "model.safetensors"))
    save_file({k: v for k, v in state.items() if "encoder.layers.1." not in k},
              str(tmp_path / "partial" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="missing"):
        AudioEncoder.from_pretrained(tmp_path / "partial")


def test_build_random_encoder_presets():
    a, b = build_random_encoder("tiny", seed=3), build_random_encoder("tiny", seed=3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    from transformers import Wav2Vec2Config
    from playmate_core.audio.encoder import ENCODER_PRESETS

    base = Wav2Vec2Config(**ENCODER_PRESETS["base"])               # config only: no 94 M-parameter build
    assert (base.hidden_size, base.num_hidden_layers, base.num_attention_heads, base.intermediate_size,
            tuple(base.conv_dim)) == (768, 12, 12, 3072, (512,) * 7)
    with pytest.raises(ValueError, match="preset"):
        build_random_encoder("huge")


def test_timing_helper_runs(tiny):
    assert 0 < encoder_seconds_per_audio_second(tiny.model, seconds=0.5, repeats=1) < 10
