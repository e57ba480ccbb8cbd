"""Bad inputs on the real server: runtime errors name the Playmate node and the fix, keep the outputs of
nodes that ran and leave the server serving; out-of-range values and unknown nodes are HTTP 400."""
from __future__ import annotations

import copy

import pytest

from .e2e_env import API_DIR
from .e2e_helpers import (add_node, describe, emotion_node, extract_only, is_unknown_node_error, load_api, one, options_node,
                          upstream)


@pytest.fixture(scope="module")
def base_wf() -> dict:
    p = API_DIR / "audio_to_video_api.json"
    if not p.is_file():
        pytest.fail("workflows/api/audio_to_video_api.json is missing")
    return load_api(p)


def test_no_face_is_a_clear_error_and_the_server_keeps_serving(client, uploaded, base_wf, object_info):
    wf = copy.deepcopy(base_wf)
    img = one(wf, "LoadImage")
    wf[img]["inputs"]["image"] = uploaded["grey.png"]
    saved = add_node(wf, "PreviewImage", {"images": [img, 0]})    # an output node that runs before the failure
    r = client.run(wf, timeout=300)
    assert r.status == "execution_error", describe(r)
    e = r.error
    assert e["node_type"].startswith("Playmate"), e
    msg = e["exception_message"]
    assert "face" in msg.lower(), msg
    # names the node (display name or id) and says what to do about it
    display = object_info[e["node_type"]].get("display_name", e["node_type"])
    assert display.lower() in msg.lower() or e["node_type"] in msg, f"the message does not name the node: {msg!r}"
    assert any(w in msg.lower() for w in ("crop", "on_missing_face", "photo", "image with", "try", "use ", "choose")), \
        f"the message gives no fix: {msg!r}"
    assert "Traceback" not in msg
    print(f"[e2e] no-face error from {e['node_type']}: {msg}")
    assert saved in r.outputs and r.outputs[saved].get("images"), f"outputs of nodes that ran are lost: {r.outputs}"

    good, preview = extract_only(base_wf, object_info)
    r2 = client.run(good, timeout=300)
    assert r2.status == "success", describe(r2)
    assert r2.outputs.get(preview, {}).get("images"), r2.outputs


def _rejected(client, wf) -> dict:
    running, pending = client.queue()
    code, body = client.submit(wf)
    assert code == 400, f"expected HTTP 400, got {code}: {body}"
    assert client.queue()[1] == pending, "a rejected prompt must not be queued"
    return body


def _error_types(body: dict, node: str) -> dict:
    return {x.get("extra_info", {}).get("input_name"): x["type"] for x in body["node_errors"][node]["errors"]}


@pytest.mark.parametrize("node, name, value, error", [
    ("PlaymateAudioToMotion", "steps", 100000, "value_bigger_than_max"),
    ("PlaymateAudioToMotion", "fps", 0, "value_smaller_than_min"),
    ("PlaymateSamplingOptions", "audio_guidance", 11.0, "value_bigger_than_max"),
    ("PlaymateEmotion", "strength", -1.0, "value_smaller_than_min")])
def test_out_of_range_value_is_400(client, uploaded, base_wf, node, name, value, error):
    wf = upstream(base_wf, one(base_wf, "SaveVideo"))        # the one output (a crop preview alone would be queued)
    a2m = one(wf, "PlaymateAudioToMotion")
    if node == "PlaymateEmotion":
        target = emotion_node(wf, a2m)
    elif node == "PlaymateSamplingOptions":
        target = options_node(wf, a2m, node, {"audio_guidance": 1.5, "randomness": 1.0})
    else:
        target = a2m
    wf[target]["inputs"][name] = value
    body = _rejected(client, wf)
    assert _error_types(body, target).get(name) == error, body


def test_unknown_node_type_is_400(client, base_wf):
    wf = copy.deepcopy(base_wf)
    add_node(wf, "PlaymateDoesNotExist", {"x": 1})
    body = _rejected(client, wf)
    assert is_unknown_node_error(body["error"], "PlaymateDoesNotExist"), body     # 0.3.75 and 0.33.0 shapes


def test_missing_model_file_fails_clearly(client, base_wf):
    """A model file that is not listed: ComfyUI 0.3.75 does not check V3 combo values, so the loader's
    validate_inputs does: HTTP 400 naming the slot, the folder searched and the valid entries."""
    wf = copy.deepcopy(base_wf)
    loader = one(wf, "PlaymateLoadModels")
    wf[loader]["inputs"]["motion_model"] = "no-such-model.safetensors"
    body = _rejected(client, wf)
    details = " ".join(x.get("details", "") for x in body["node_errors"][loader]["errors"])
    assert "Playmate Load Models: motion_model 'no-such-model.safetensors' is not one of the entries" in details, body
    assert "models/playmate" in details and "Choose one of" in details, body
