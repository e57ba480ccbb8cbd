"""Our modules' state-dict keys, shapes and dtypes equal the public checkpoints' (tests/data/liveportrait_manifest.json,
a copy of the shared LivePortrait manifest)."""
import json

import pytest

from playmate_core import FaceEngineConfig, build_face_modules
from playmate_core.face.weights import STITCHING_SLOT, to_flat_stitching, to_official_stitching

MANIFEST = "liveportrait_manifest.json"


@pytest.fixture(scope="module")
def full_states():
    modules = build_face_modules(FaceEngineConfig.liveportrait())
    return {slot: module.state_dict() for slot, module in modules.items()}


def _describe(state):
    return {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()}


@pytest.mark.parametrize("layout", ["official", "safetensors"])
def test_state_dicts_equal_manifest(full_states, layout, data_dir):
    files = json.loads((data_dir / MANIFEST).read_text())["files"]
    for slot, state in full_states.items():
        if layout == "official":
            sub = "retargeting_models" if slot == STITCHING_SLOT else "base_models"
            entry = files[f"KwaiVGI/LivePortrait:liveportrait/{sub}/{slot}.pth"]
            if slot == STITCHING_SLOT:
                state = {f"{top}/{k}": v for top, inner in to_official_stitching(state).items() for k, v in inner.items()}
        else:
            entry = files[f"Kijai/LivePortrait_safetensors:{slot}.safetensors"]
            if slot == STITCHING_SLOT:
                state = to_flat_stitching(state)
        assert _describe(state) == entry, slot


def test_parameter_counts_match_manifest(full_states, data_dir):
    counts = json.loads((data_dir / MANIFEST).read_text())["notes"]["float_element_counts"]
    for slot, state in full_states.items():
        sub = "retargeting_models" if slot == STITCHING_SLOT else "base_models"
        n = sum(v.numel() for v in state.values() if v.dtype.is_floating_point)
        assert n == counts[f"KwaiVGI/LivePortrait:liveportrait/{sub}/{slot}.pth"], slot
