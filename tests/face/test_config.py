"""playmate_face_config.json beside the weights: tiny weights load through the real loader without config=."""
import json

import pytest
import torch

from playmate_core import FaceEngineConfig, load_face_engine, save_weights
from playmate_core.face.config import FACE_CONFIG_FILENAME
from playmate_core.face.engine import load_face_modules


def test_tiny_weights_with_config_load_without_config_argument(tmp_path, tiny_modules, tiny_cfg):
    save_weights(tiny_modules, tmp_path, "safetensors", config=tiny_cfg)
    data = json.loads((tmp_path / FACE_CONFIG_FILENAME).read_text())
    assert "preset" not in data and FaceEngineConfig.from_dict(data) == tiny_cfg
    engine = load_face_engine(tmp_path, optimize=False)
    assert engine.cfg == tiny_cfg
    ref = tiny_modules["appearance_feature_extractor"].state_dict()
    for key, value in engine.F.state_dict().items():
        assert torch.equal(value, ref[key]), key


def test_official_layout_and_animal_folder(tmp_path, tiny_modules, tiny_cfg):
    save_weights(tiny_modules, tmp_path / "official", "official", config=tiny_cfg)
    assert load_face_engine(tmp_path / "official").cfg == tiny_cfg
    root = tmp_path / "kj"
    save_weights(tiny_modules, root, "safetensors", config=tiny_cfg)
    animal = {k: v for k, v in tiny_modules.items() if k != "stitching_retargeting_module"}
    save_weights(animal, root / "animal", "safetensors", config=tiny_cfg)      # stitching from the parent
    modules, found = load_face_modules(root, animal=True)
    assert found.files["appearance_feature_extractor"].parent.name == "animal"
    assert found.files["stitching_retargeting_module"].parent == root


def test_without_json_the_public_architecture_is_assumed(tmp_path, tiny_modules):
    save_weights(tiny_modules, tmp_path, "safetensors")
    assert not (tmp_path / FACE_CONFIG_FILENAME).exists()
    with pytest.raises(Exception, match="appearance_feature_extractor"):       # tiny tensors, public shapes
        load_face_engine(tmp_path)


def test_explicit_config_wins_over_the_file(tmp_path, tiny_modules, tiny_cfg):
    save_weights(tiny_modules, tmp_path, "safetensors", config=tiny_cfg)
    (tmp_path / FACE_CONFIG_FILENAME).write_text("{not json")
    assert load_face_engine(tmp_path, config=tiny_cfg).cfg == tiny_cfg


@pytest.mark.parametrize("content, match", [
    ("{not json", "not readable JSON"),
    ("[1, 2]", "must hold a JSON object"),
    (None, "unknown keys .*'warpping'"),
])
def test_bad_json_errors_name_the_file(tmp_path, tiny_modules, tiny_cfg, content, match):
    save_weights(tiny_modules, tmp_path, "safetensors", config=tiny_cfg)
    if content is None:
        data = tiny_cfg.to_dict()
        data["warpping"] = data.pop("warping")
        content = json.dumps(data)
    (tmp_path / FACE_CONFIG_FILENAME).write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        load_face_engine(tmp_path)
    assert FACE_CONFIG_FILENAME in str(err.value) and "delete" in str(err.value)
