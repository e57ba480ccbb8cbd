"""Strict reader of JoyVASA's released motion generator (`motion_generator_hubert_chinese.pt`).

The file is `torch.save({'args': argparse.Namespace, 'model': state_dict, 'iter': int})`. It is read
with `torch.load(weights_only=True)` plus an allow-list of exactly the non-tensor globals the release
holds: `argparse.Namespace` and pathlib paths (mapped to the pure path classes, which do nothing but
hold a string and exist on every OS). Any other global is refused.

Key map (declared; prefix rules with `removeprefix`, explicit renames):

    denoising_net.*                                   -> denoiser.*
    ...pos_conv_embed.conv.weight_g | weight_v        <-> ...parametrizations.weight.original0 | original1
                                                          (whichever spelling our transformers builds)
    derived buffers, verified then dropped:
        denoising_net.PE.pe (1,600,F), denoising_net.TE.pe (1,>=T+1,F) sinusoid tables
        denoising_net.alignment_mask (Lp+L,Lp+L) bool
        diffusion_sched.{betas,alphas,alpha_bars,sigmas_flex,sigmas_inflex} (T+1,) cosine schedule

Everything else must match our module key for key and shape for shape (the reference loads with
strict=False and silently keeps whatever does not fit). Hyper-parameters come from `args` and are
checked against the tensor shapes before anything is built.
"""
from __future__ import annotations

import argparse
import logging
import pathlib
import pickle
import zipfile
from pathlib import Path

import torch

from ...loading import CheckpointError, load_strict
from .config import JoyVASAConfig, PE_MAX_LEN, config_from_args
from .denoiser import alignment_mask, sinusoid_table
from .sampler import cosine_schedule

log = logging.getLogger("playmate")

PREFIX_RULES = (("denoising_net.", "denoiser."),)
WEIGHT_NORM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
POS_CONV = "audio_encoder.encoder.pos_conv_embed.conv."
DERIVED_PREFIXES = ("diffusion_sched.",)
DERIVED_KEYS = ("denoising_net.PE.pe", "denoising_net.TE.pe", "denoising_net.alignment_mask")
ALLOWED_GLOBALS = [argparse.Namespace,
                   (pathlib.PurePosixPath, "pathlib.PosixPath"), (pathlib.PureWindowsPath, "pathlib.WindowsPath"),
                   (pathlib.PurePosixPath, "pathlib._local.PosixPath"),
                   (pathlib.PureWindowsPath, "pathlib._local.WindowsPath"),
                   (pathlib.PurePosixPath, "pathlib.PurePosixPath"),
                   (pathlib.PureWindowsPath, "pathlib.PureWindowsPath")]
FIX = ("use motion_generator/motion_generator_hubert_chinese.pt from the jdh-algo/JoyVASA Hugging Face repo, "
       "unmodified")
TABLE_ATOL = 1e-5


def looks_like_joyvasa(path: str | Path) -> bool:
    """Cheap, unpickling-free test: a torch zip file whose pickle names JoyVASA's modules."""
    try:
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            head = z.read(name) if name else b""
    except (OSError, zipfile.BadZipFile, KeyError):
        return False
    return b"denoising_net." in head and b"start_motion_feat" in head


def _refuse_playmate_file(path: Path) -> None:
    if path.suffix != ".safetensors":
        return
    try:
        from safetensors import safe_open
        with safe_open(str(path), framework="pt", device="cpu") as f:
            fmt = (f.metadata() or {}).get("playmate_format")
    except Exception:  # noqa: BLE001 - unreadable: reported below as "not a JoyVASA file"
        fmt = None
    what = ("a Playmate motion checkpoint; load it in the Playmate motion slot (load_motion_model)"
            if fmt == "motion" else "a .safetensors file, but the JoyVASA release is a torch .pt pickle")
    raise CheckpointError(f"JoyVASA motion generator: '{path}' is {what}. Expected "
                          f"motion_generator_hubert_chinese.pt; {FIX}.")


def read_released(path: str | Path) -> tuple:
    """-> (args, state dict, iteration) from the released .pt; CheckpointError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"JoyVASA motion generator '{path}' does not exist; {FIX} and put it in "
                                f"ComfyUI/models/playmate/")
    _refuse_playmate_file(path)
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS):
            data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"JoyVASA motion generator '{path}' holds something besides tensors, "
                              f"argparse.Namespace and pathlib paths, so it was not unpickled ({exc}). "
                              f"The release holds nothing else: {FIX}.") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the same thing to the user
        raise CheckpointError(f"JoyVASA motion generator: cannot read '{path}' ({type(exc).__name__}: {exc}). "
                              f"The file is truncated or corrupt; download it again ({FIX}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict) or "args" not in data:
        keys = sorted(data)[:5] if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"'{path}' is not a JoyVASA motion generator: expected a dict with 'args', 'model' "
                              f"and 'iter', found {keys}. {FIX}.")
    return data["args"], data["model"], data.get("iter")


def _shape(state: dict, key: str, path: Path) -> tuple:
    if key not in state or not isinstance(state[key], torch.Tensor):
        raise CheckpointError(f"JoyVASA motion generator '{path}' has no tensor '{key}'; {FIX}.")
    return tuple(state[key].shape)


def config_from_file(args, state: dict, path: Path) -> JoyVASAConfig:
    """Hyper-parameters from `args`, each checked against the tensor that depends on it."""
    f, audio_dim = _shape(state, "audio_feature_map.weight", path)
    try:
        cfg = config_from_args(args, audio_dim)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"JoyVASA motion generator '{path}': its training arguments are unusable ({exc}); "
                              f"{FIX}.") from exc
    lp, d = cfg.n_prev_motions, cfg.motion_dim
    checks = [("start_motion_feat", (1, lp, d), "n_prev_motions, motion_feat_dim"),
              ("start_audio_feat", (1, lp, cfg.feature_dim), "n_prev_motions, feature_dim"),
              ("audio_feature_map.weight", (cfg.feature_dim, audio_dim), "feature_dim"),
              ("diffusion_sched.betas", (cfg.n_diff_steps + 1,), "n_diff_steps"),
              ("denoising_net.alignment_mask", (cfg.tokens, cfg.tokens), "n_prev_motions + n_motions"),
              ("denoising_net.PE.pe", (1, PE_MAX_LEN, cfg.feature_dim), "feature_dim")]
    for key, want, fields in checks:
        got = _shape(state, key, path)
        if got != want:
            raise CheckpointError(f"JoyVASA motion generator '{path}': tensor '{key}' has shape {got}, but args "
                                  f"({fields}) give {want}; the file was edited or is not a JoyVASA release.")
    return cfg


def verify_derived(state: dict, cfg: JoyVASAConfig, path: Path) -> None:
    """The stored tables, mask and schedule must equal what the reference code computes."""
    f = cfg.feature_dim
    te = state.get("denoising_net.TE.pe")
    expected = {"denoising_net.PE.pe": sinusoid_table(PE_MAX_LEN, f),
                "denoising_net.alignment_mask": alignment_mask(cfg.tokens)}
    if te is not None:                      # the reference drops it; its length varies between versions
        if te.ndim != 3 or te.shape[2] != f or te.shape[1] < cfg.n_diff_steps + 1:
            raise CheckpointError(f"'{path}': denoising_net.TE.pe has shape {tuple(te.shape)}, expected "
                                  f"(1, >= {cfg.n_diff_steps + 1}, {f}); {FIX}.")
        expected["denoising_net.TE.pe"] = sinusoid_table(te.shape[1], f)
    expected.update({f"diffusion_sched.{k}": v for k, v in cosine_schedule(cfg.n_diff_steps).items()})
    for key, want in expected.items():
        got = state[key] if key in state else None
        if got is None:
            raise CheckpointError(f"'{path}' has no '{key}'; {FIX}.")
        same = (torch.equal(got.bool(), want) if want.dtype == torch.bool
                else got.shape == want.shape and torch.allclose(got.float(), want, atol=TABLE_ATOL, rtol=1e-4))
        if not same:
            raise CheckpointError(f"'{path}': stored '{key}' differs from the value JoyVASA's code computes "
                                  f"(cosine schedule / sinusoid table / diagonal mask); the file is not a "
                                  f"release this loader understands.")


def map_keys(state: dict, target_keys: set) -> dict:
    """Released names -> ours (module docstring); derived buffers are left out."""
    out = {}
    for key, value in state.items():
        if key in DERIVED_KEYS or key.startswith(DERIVED_PREFIXES):
            continue
        for old, new in PREFIX_RULES:
            if key.startswith(old):
                key = new + key.removeprefix(old)
        if key.startswith(POS_CONV) and key not in target_keys:
            leaf = key.removeprefix(POS_CONV)
            swapped = WEIGHT_NORM.get(leaf) or {v: k for k, v in WEIGHT_NORM.items()}.get(leaf)
            if swapped is not None:
                key = POS_CONV + swapped
        out[key] = value
    return out


def check_encoder_config(encoder_state: dict, encoder: torch.nn.Module, config_path: str, path: Path) -> None:
    """The audio-encoder tensors in the file must fit the encoder built from config.json."""
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(encoder_state))
    extra = sorted(set(encoder_state) - set(expected))
    bad = [k for k in expected if k in encoder_state and tuple(encoder_state[k].shape) != tuple(expected[k].shape)]
    if missing or extra or bad:
        detail = (f"shape of '{bad[0]}' {tuple(encoder_state[bad[0]].shape)} vs {tuple(expected[bad[0]].shape)}"
                  if bad else f"missing {missing[:2]}, unexpected {extra[:2]}")
        raise CheckpointError(f"the audio-encoder config {config_path} does not match the audio encoder inside "
                              f"'{path}' ({detail}). Expected TencentGameMate/chinese-hubert-base's config.json "
                              f"(HuBERT-base: 768 wide, 12 layers) in ComfyUI/models/audio_encoders/.")


def load_state(model: torch.nn.Module, state: dict, path: Path, config_path: str) -> None:
    """Map, check the encoder against its config, then load everything strictly."""
    mapped = map_keys(state, set(model.state_dict()))
    enc = {k.removeprefix("audio_encoder."): v for k, v in mapped.items() if k.startswith("audio_encoder.")}
    check_encoder_config(enc, model.audio_encoder, config_path, path)
    load_strict(model, mapped, slot="JoyVASA motion generator", path=path,
                hint=f" {FIX} (and pick it in the JoyVASA slot, not the Playmate one).")


def encoder_geometry(state: dict) -> dict:
    """HuBERT/wav2vec2 config fields that the file's audio-encoder keys and shapes decide (used when no
    config.json is given): width, depth, FFN, conv widths and kernels, conv bias, norm style, projection
    LayerNorm, positional-conv kernel and groups. Heads and conv strides stay at the base defaults."""
    enc = "audio_encoder."
    layers = {k.split(".")[3] for k in state if k.startswith(enc + "encoder.layers.")}
    convs = sorted({int(k.split(".")[3]) for k in state if k.startswith(enc + "feature_extractor.conv_layers.")})
    if not layers or not convs or enc + "feature_projection.projection.weight" not in state:
        raise CheckpointError("the JoyVASA checkpoint holds no complete audio encoder (audio_encoder.*); " + FIX)
    hidden = state[enc + "feature_projection.projection.weight"].shape[0]
    pos = next((state[POS_CONV + leaf] for leaf in ("parametrizations.weight.original1", "weight_v", "weight")
                if POS_CONV + leaf in state), None)
    extra = {} if pos is None else {"num_conv_pos_embeddings": pos.shape[2],
                                    "num_conv_pos_embedding_groups": hidden // pos.shape[1]}
    return {**extra, "hidden_size": hidden,
            "conv_kernel": tuple(state[f"{enc}feature_extractor.conv_layers.{i}.conv.weight"].shape[2] for i in convs),
            "num_hidden_layers": len(layers),
            "intermediate_size": state[enc + "encoder.layers.0.feed_forward.intermediate_dense.weight"].shape[0],
            "conv_dim": tuple(state[f"{enc}feature_extractor.conv_layers.{i}.conv.weight"].shape[0] for i in convs),
            "conv_bias": f"{enc}feature_extractor.conv_layers.0.conv.bias" in state,
            "feat_extract_norm": "layer" if f"{enc}feature_extractor.conv_layers.1.layer_norm.weight" in state
            else "group",
            "feat_proj_layer_norm": f"{enc}feature_projection.layer_norm.weight" in state}
