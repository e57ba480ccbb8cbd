"""FeatureCache: hits on the same (normalised audio, fps, encoder), misses on anything else."""
import pytest
import torch

from playmate_core.audio.cache import FeatureCache, encode_cached
from playmate_core.audio.encoder import AudioEncoder, build_random_encoder


@pytest.fixture(scope="module")
def encoders():
    return AudioEncoder(build_random_encoder("tiny", seed=0)), AudioEncoder(build_random_encoder("tiny", seed=1))


@pytest.fixture()
def wave():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16000, generator=g) * 0.1                   # (S,) 1 s at 16 kHz


def test_hit_and_miss(tmp_path, encoders, wave):
    enc, _ = encoders
    cache = FeatureCache(tmp_path)
    first = cache.encode_cached(enc, wave, 25.0)
    second = cache.encode_cached(enc, wave, 25.0)
    assert (cache.misses, cache.hits) == (1, 1)
    assert first.shape == (25, 2, 32) and second.dtype == torch.float32
    torch.testing.assert_close(first, second, rtol=0, atol=0)      # a miss returns what a hit will
    torch.testing.assert_close(second, enc.encode(wave, 25.0), rtol=0, atol=1e-2)   # fp16 storage
    assert len(list(tmp_path.glob("*.safetensors"))) == 1


def test_other_fps_encoder_or_audio_miss(tmp_path, encoders, wave):
    enc, other = encoders
    cache = FeatureCache(tmp_path)
    cache.encode_cached(enc, wave, 25.0)
    cache.encode_cached(enc, wave.clone(), 25.0)                   # same samples, another tensor: hit
    assert (cache.misses, cache.hits) == (1, 1)
    assert cache.encode_cached(enc, wave, 30.0).shape[0] == 30
    cache.encode_cached(other, wave, 25.0)
    cache.encode_cached(enc, wave.flip(0), 25.0)
    cache.encode_cached(enc, wave, 25.0, chunk_seconds=0.5, context_seconds=0.2)
    assert (cache.misses, cache.hits) == (5, 1)


def test_folder_encoder_identity_changes_with_the_weights_file(tmp_path, encoders, wave):
    enc, other = encoders
    enc.model.save_pretrained(tmp_path / "w")
    a = AudioEncoder.from_pretrained(tmp_path / "w")
    key_a = FeatureCache.key(a, wave, 25.0)
    assert FeatureCache.key(AudioEncoder.from_pretrained(tmp_path / "w"), wave, 25.0) == key_a
    other.model.save_pretrained(tmp_path / "w")                   # same folder, new weights
    assert FeatureCache.key(AudioEncoder.from_pretrained(tmp_path / "w"), wave, 25.0) != key_a


def test_unreadable_entry_is_recomputed(tmp_path, encoders, wave):
    enc, _ = encoders
    cache = FeatureCache(tmp_path)
    key = cache.key(enc, wave, 25.0)
    tmp_path.joinpath(f"{key}.safetensors").write_bytes(b"garbage")
    out = cache.encode_cached(enc, wave, 25.0)
    assert cache.misses == 1 and out.shape == (25, 2, 32)
    assert cache.get(key) is not None


def test_encode_cached_without_cache(encoders, wave):
    enc, _ = encoders
    torch.testing.assert_close(encode_cached(enc, wave, 25.0), enc.encode(wave, 25.0))
