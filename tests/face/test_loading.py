"""Real loaders on real files: both public layouts, the animal folder, and every bad-file case."""
import shutil

import pytest
import torch

from playmate_core import CheckpointError, load_face_engine
from playmate_core.face.weights import STITCHING_SLOT, locate


def _states_equal(engine, modules):
    pairs = [(engine.F, "appearance_feature_extractor"), (engine.M, "motion_extractor"),
             (engine.warp_net, "warping_module"), (engine.decoder, "spade_generator"), (engine.S, STITCHING_SLOT)]
    for mod, slot in pairs:
        a, b = mod.state_dict(), modules[slot].state_dict()
        assert a.keys() == b.keys(), slot
        for k in a:
            assert torch.equal(a[k], b[k]), (slot, k)


@pytest.mark.parametrize("layout", ["official", "safetensors"])
def test_roundtrip_both_layouts(tiny_weights, tiny_modules, tiny_cfg, layout):
    engine = load_face_engine(tiny_weights[layout], config=tiny_cfg, optimize=False)
    assert locate(tiny_weights[layout]).layout == layout
    _states_equal(engine, tiny_modules)


def test_layouts_give_identical_outputs(tiny_weights, tiny_cfg, face_image):
    outs = []
    for layout in ("official", "safetensors"):
        eng = load_face_engine(tiny_weights[layout], config=tiny_cfg)
        f_s = eng.extract_appearance(face_image)
        x_s = eng.transform_keypoints(eng.extract_motion(face_image))
        outs.append(eng.warp_decode(f_s, x_s, eng.stitch(x_s, x_s * 1.01)))
    assert torch.equal(outs[0], outs[1])


def test_animal_folder_uses_parent_stitching(tmp_path, tiny_weights, tiny_modules, tiny_cfg):
    root = tmp_path / "liveportrait"
    shutil.copytree(tiny_weights["safetensors"], root)
    (root / "animal").mkdir()
    for f in root.glob("*.safetensors"):
        if STITCHING_SLOT not in f.name:
            shutil.copy(f, root / "animal" / f.name)
    found = locate(root, animal=True)
    assert found.files["motion_extractor"].parent.name == "animal"
    assert found.files[STITCHING_SLOT].parent == root
    _states_equal(load_face_engine(root, animal=True, config=tiny_cfg, optimize=False), tiny_modules)


def test_official_stitching_accepts_plain_inner_keys_and_ignores_extras(tmp_path, tiny_weights, tiny_cfg):
    root = tmp_path / "w"
    shutil.copytree(tiny_weights["official"], root)
    path = root / "retargeting_models" / f"{STITCHING_SLOT}.pth"
    raw = torch.load(path, weights_only=True)
    raw = {top: {k.removeprefix("module."): v for k, v in inner.items()} for top, inner in raw.items()}
    raw["optimizer_note"] = {"step": torch.tensor(3)}
    torch.save(raw, path)
    load_face_engine(root, config=tiny_cfg)


def test_half_precision_file_is_accepted(tmp_path, tiny_weights, tiny_cfg):
    from safetensors.torch import load_file, save_file
    root = tmp_path / "w"
    shutil.copytree(tiny_weights["safetensors"], root)
    f = root / "spade_generator.safetensors"
    save_file({k: v.half() for k, v in load_file(f).items()}, f)
    assert load_face_engine(root, config=tiny_cfg, optimize=False).decoder.fc.weight.dtype == torch.float32


def test_missing_weights_lists_both_layouts_source_and_licence(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_face_engine(tmp_path)
    msg = str(err.value)
    assert "motion_extractor.safetensors" in msg and "base_models/motion_extractor.pth" in msg
    assert "retargeting_models/stitching_retargeting_module.pth" in msg
    assert "huggingface.co/Kijai/LivePortrait_safetensors" in msg and "MIT" in msg


def test_wrong_file_in_slot_names_slot_file_and_key(tmp_path, tiny_weights, tiny_cfg):
    root = tmp_path / "w"
    shutil.copytree(tiny_weights["safetensors"], root)
    shutil.copy(root / "warping_module.safetensors", root / "motion_extractor.safetensors")
    with pytest.raises(CheckpointError) as err:
        load_face_engine(root, config=tiny_cfg)
    msg = str(err.value)
    assert "motion_extractor" in msg and "motion_extractor.safetensors" in msg
    assert "detector." in msg and "looks like warping_module" in msg


def test_truncated_file_names_slot_and_file(tmp_path, tiny_weights, tiny_cfg):
    for layout, name in [("official", "base_models/warping_module.pth"), ("safetensors", "warping_module.safetensors")]:
        root = tmp_path / layout
        shutil.copytree(tiny_weights[layout], root)
        data = (root / name).read_bytes()
        (root / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError, match=r"warping_module: cannot read .*warping_module\.") as err:
            load_face_engine(root, config=tiny_cfg)
        assert "download it again" in str(err.value)


def test_missing_key_and_wrong_shape(tmp_path, tiny_weights, tiny_cfg):
    from safetensors.torch import load_file, save_file
    root = tmp_path / "w"
    shutil.copytree(tiny_weights["safetensors"], root)
    f = root / "spade_generator.safetensors"
    state = load_file(f)
    del state["up_1.conv_s.weight_u"]
    save_file(state, f)
    with pytest.raises(CheckpointError, match=r"spade_generator: .* missing 1 key\(s\), first 'up_1.conv_s.weight_u'"):
        load_face_engine(root, config=tiny_cfg)
    shutil.copy(tiny_weights["safetensors"] / "spade_generator.safetensors", f)
    f = root / "appearance_feature_extractor.safetensors"
    state = load_file(f)
    state["second.weight"] = state["second.weight"][:, :1].contiguous()
    save_file(state, f)
    with pytest.raises(CheckpointError, match=r"appearance_feature_extractor: .*'second.weight' has shape"):
        load_face_engine(root, config=tiny_cfg)


def test_full_size_config_rejects_tiny_files(tiny_weights):
    with pytest.raises(CheckpointError, match="appearance_feature_extractor"):
        load_face_engine(tiny_weights["safetensors"])


def test_loading_never_unpickles_arbitrary_objects(tmp_path, tiny_weights, tiny_cfg):
    import argparse
    root = tmp_path / "w"
    shutil.copytree(tiny_weights["official"], root)
    torch.save({"evil": argparse.Namespace(a=1)}, root / "base_models" / "warping_module.pth")
    with pytest.raises(CheckpointError, match="warping_module: cannot read"):
        load_face_engine(root, config=tiny_cfg)
