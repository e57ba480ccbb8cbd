"""JoyVASA loader on tiny random weights written in the RELEASED layout (a torch pickle with args/model/iter):
both weight-norm spellings, the motion template, and every refusal the issue lists."""
import argparse
import json
import os
import pickle
import subprocess

import pytest
import torch

from playmate_core.motion.joyvasa import load_joyvasa, load_template, looks_like_joyvasa
from playmate_core.motion.joyvasa.checkpoint import ALLOWED_GLOBALS
from playmate_core.motion.joyvasa.export import (TINY_HUBERT, TINY_JOYVASA, build_random_joyvasa, released_args,
                                          released_state, save_released_layout, save_template_pickle)
from playmate_core.loading import CheckpointError
from playmate_core.motion import build_motion_model, load_motion_model, save_motion_checkpoint


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("joyvasa")
    model = build_random_joyvasa(TINY_JOYVASA, TINY_HUBERT, seed=0)
    (d / "hubert").mkdir()
    (d / "hubert" / "config.json").write_text(model.audio_encoder.config.to_json_string())
    new = save_released_layout(model, d / "new.pt", "parametrizations")
    old = save_released_layout(model, d / "old.pt", "weight_g")
    tmpl = save_template_pickle(model.template, d / "motion_template.pkl")
    return {"dir": d, "model": model, "new": new, "old": old, "template": tmpl, "hubert": d / "hubert"}


def write(path, state=None, args=None, **extra):
    """Save a released-layout dict with a modified state or args."""
    torch.save({"args": args, "model": state, "iter": 1, **extra}, str(path))
    return path


@pytest.mark.parametrize("spelling", ["new", "old"])
def test_both_weight_norm_spellings_load_the_same_weights(files, spelling):
    model = load_joyvasa(files[spelling], files["template"], files["hubert"])
    ref = files["model"].state_dict()
    got = model.state_dict()
    assert set(got) == set(ref)
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=0, atol=0, msg=k)
    assert model.cfg == TINY_JOYVASA and model.meta["iter"] == 20000
    assert model.template == files["model"].template


def _read_own(path):
    """Read a file these tests wrote, the safe way (the loader's allow-list)."""
    with torch.serialization.safe_globals(ALLOWED_GLOBALS):
        return torch.load(str(path), weights_only=True)


def test_released_layout_is_what_the_loader_reads(files):
    data = _read_own(files["new"])
    assert set(data) == {"args", "model", "iter"} and isinstance(data["args"], argparse.Namespace)
    keys = set(data["model"])
    assert {"denoising_net.TE.pe", "denoising_net.alignment_mask", "diffusion_sched.betas", "start_motion_feat",
            "audio_encoder.encoder.pos_conv_embed.conv.parametrizations.weight.original0"} <= keys
    assert looks_like_joyvasa(files["new"])


def test_truncated_file_is_refused(files, tmp_path):
    cut = tmp_path / "cut.pt"
    cut.write_bytes(files["new"].read_bytes()[:20000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_joyvasa(cut, files["template"], files["hubert"])


def test_wrong_shape_tensor_is_refused(files, tmp_path):
    state = released_state(files["model"])
    state["denoising_net.motion_dec.0.weight"] = torch.zeros(3, 3)
    path = write(tmp_path / "bad.pt", state, released_args(TINY_JOYVASA))
    with pytest.raises(CheckpointError, match=r"motion_dec.0.weight.*shape \(3, 3\)"):
        load_joyvasa(path, files["template"], files["hubert"])


def test_args_that_contradict_the_tensors_are_refused(files, tmp_path):
    path = write(tmp_path / "args.pt", released_state(files["model"]), released_args(TINY_JOYVASA), )
    data = _read_own(path)
    data["args"].n_prev_motions = 3
    torch.save(data, str(path))
    with pytest.raises(CheckpointError, match="start_motion_feat.*n_prev_motions"):
        load_joyvasa(path, files["template"], files["hubert"])


@pytest.mark.parametrize("change", ["missing", "unexpected", "schedule"])
def test_missing_unexpected_and_altered_buffers_are_refused(files, tmp_path, change):
    state = released_state(files["model"])
    if change == "missing":
        del state["denoising_net.feature_proj.bias"]
    elif change == "unexpected":
        state["denoising_net.extra.weight"] = torch.zeros(1)
    else:
        state["diffusion_sched.betas"] = state["diffusion_sched.betas"] * 1.1
    path = write(tmp_path / f"{change}.pt", state, released_args(TINY_JOYVASA))
    match = {"missing": "missing 1 key", "unexpected": "unexpected key", "schedule": "diffusion_sched.betas"}[change]
    with pytest.raises(CheckpointError, match=match):
        load_joyvasa(path, files["template"], files["hubert"])


def test_pickle_with_a_disallowed_global_is_refused(files, tmp_path):
    marker = tmp_path / "ran"
    state = released_state(files["model"])
    evil = type("Evil", (), {"__reduce__": lambda self: (subprocess.call, (["touch", str(marker)],))})
    path = write(tmp_path / "evil.pt", state, released_args(TINY_JOYVASA), payload=evil())
    with pytest.raises(CheckpointError, match="besides tensors"):
        load_joyvasa(path, files["template"], files["hubert"])
    assert not marker.exists()


def test_playmate_checkpoint_in_the_joyvasa_slot(files, tmp_path):
    playmate = save_motion_checkpoint(tmp_path / "playmate_motion.safetensors", build_motion_model("tiny"))
    with pytest.raises(CheckpointError, match=r"playmate_motion.safetensors.*Playmate motion checkpoint"):
        load_joyvasa(playmate, files["template"], files["hubert"])


def test_joyvasa_checkpoint_in_the_playmate_slot(files):
    with pytest.raises(CheckpointError, match=r"new.pt.*JoyVASA motion generator.*JoyVASA slot"):
        load_motion_model(files["new"])


def test_other_pickles_are_not_joyvasa(files, tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a JoyVASA motion generator"):
        load_joyvasa(path, files["template"], files["hubert"])


def test_hubert_config_that_does_not_match(files, tmp_path):
    cfg = json.loads((files["hubert"] / "config.json").read_text())
    cfg["num_hidden_layers"] = 3
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"config.json does not match the audio encoder inside '.*new.pt'"):
        load_joyvasa(files["new"], files["template"], tmp_path)
    cfg.update(num_hidden_layers=2, hidden_size=48)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="hidden_size 48"):
        load_joyvasa(files["new"], files["template"], tmp_path)
    cfg.update(hidden_size=32, model_type="wav2vec2")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="model_type 'wav2vec2'"):
        load_joyvasa(files["new"], files["template"], tmp_path)


def test_template_without_the_needed_fields(files, tmp_path):
    path = tmp_path / "motion_template.pkl"
    data = pickle.loads(files["template"].read_bytes())
    del data["max_yaw"], data["std_exp"]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(CheckpointError, match=r"motion_template.pkl' lacks the field\(s\) \['std_exp', 'max_yaw'\]"):
        load_joyvasa(files["new"], path, files["hubert"])


def test_template_pickle_with_a_global_is_refused(tmp_path):
    path = tmp_path / "motion_template.pkl"
    path.write_bytes(pickle.dumps({"mean_exp": os.getcwd}))       # any callable reference
    with pytest.raises(CheckpointError, match="not allowed"):
        load_template(path)


def test_template_is_converted_once_and_reused(files, tmp_path):
    path = tmp_path / "motion_template.pkl"
    path.write_bytes(files["template"].read_bytes())
    first = load_template(path)
    converted = tmp_path / "motion_template.safetensors"
    assert converted.is_file()
    before = converted.stat().st_mtime_ns
    assert load_template(path) == first and converted.stat().st_mtime_ns == before     # cache used
    assert load_template(converted) == first                                          # direct use
    data = pickle.loads(path.read_bytes())
    data["min_roll"] = data["min_roll"] - 1
    path.write_bytes(pickle.dumps(data))                                               # stale cache: re-read
    assert load_template(path).min_roll[0] == pytest.approx(first.min_roll[0] - 1, abs=1e-6)
    (tmp_path / "t.json").write_text(json.dumps({k: list(v) for k, v in first.__dict__.items()}))
    assert load_template(tmp_path / "t.json") == first


def test_released_layout_equals_the_shared_manifest(data_dir):
    """Keys, shapes and dtypes of the released layout at the manifest's config (built on the meta device);
    tests/data/joyvasa_manifest.json is a copy of the shared JoyVASA manifest."""
    from playmate_core.motion.joyvasa.checkpoint import map_keys
    from playmate_core.motion.joyvasa.config import JoyVASAConfig
    manifest = json.loads((data_dir / "joyvasa_manifest.json").read_text())
    c = manifest["constructor"]
    cfg = JoyVASAConfig(motion_dim=c["motion_feat_dim"], feature_dim=c["feature_dim"], n_motions=c["n_motions"],
                        n_prev_motions=c["n_prev_motions"], n_diff_steps=c["n_diff_steps"],
                        audio_model=c["audio_model"])
    with torch.device("meta"):
        model = build_random_joyvasa(cfg)
        state = released_state(model)
    got = {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()}
    want = {e["key"]: [e["shape"], e["dtype"]] for e in manifest["keys"]}
    assert got == want
    assert set(map_keys({k: None for k in want}, set(model.state_dict()))) == set(model.state_dict())


def test_without_a_config_folder_the_geometry_comes_from_the_checkpoint(files):
    hubert = {**TINY_HUBERT, "num_attention_heads": 2, "hidden_size": 48, "feat_proj_layer_norm": False}
    from playmate_core.motion.joyvasa.config import JoyVASAConfig
    model = build_random_joyvasa(JoyVASAConfig(feature_dim=16, n_motions=10, n_prev_motions=2, n_diff_steps=4,
                                               audio_dim=48), hubert)
    path = save_released_layout(model, files["dir"] / "noconfig.pt")
    loaded = load_joyvasa(path, files["template"], None)
    assert not loaded.audio_encoder.config.feat_proj_layer_norm
    assert loaded.audio_encoder.config.num_hidden_layers == 2 and loaded.audio_encoder.config.hidden_size == 48
