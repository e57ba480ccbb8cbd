"""Playmate's audio front-end in one import: waveform I/O, frame alignment, the frozen encoder, the cache.

    wave = prepare_waveform(audio["waveform"], audio["sample_rate"])      # (S,) 16 kHz mono
    enc = AudioEncoder.from_pretrained("models/audio_encoders/wav2vec2-base-960h")
    a = enc.encode(wave, fps=25.0)                                        # (N, L, D) -> Proj_a

Importing this module does not import transformers (loaded on first use).
"""
from .align import native_frames_needed, native_to_video, pad_for_native_frames, video_frame_weights
from .cache import FeatureCache, encode_cached
from .encoder import ENCODER_PRESETS, AudioEncoder, build_random_encoder, encoder_seconds_per_audio_second
from .io import SAMPLE_RATE, check_duration, load_audio_file, normalize_waveform, prepare_waveform

__all__ = ["SAMPLE_RATE", "prepare_waveform", "load_audio_file", "normalize_waveform",
           "check_duration", "native_frames_needed", "pad_for_native_frames", "video_frame_weights",
           "native_to_video", "AudioEncoder", "build_random_encoder", "ENCODER_PRESETS",
           "encoder_seconds_per_audio_second", "FeatureCache", "encode_cached"]
