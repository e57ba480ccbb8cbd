"""The fine-control nodes on the real server: Blinks & Silence and Expression Edit are registered with their
widgets; the still-portrait editor shows its rendered frame on the node and renders again when a slider
changes (the auto-queue loop); a bad keyframe line is an error naming the node, the line and the fix;
Blinks & Silence runs on a generated motion and Motion Preview draws its tracks."""
from __future__ import annotations

import copy

import pytest

from .e2e_env import API_DIR
from .e2e_helpers import add_node, describe, load_api, one, upstream

CONTROLS = ("smile", "brow", "eye_openness", "wink_left", "wink_right", "pupil_x", "pupil_y", "mouth_aa",
            "mouth_ee", "mouth_oo", "head_pitch", "head_yaw", "head_roll")


@pytest.fixture(scope="module")
def base_wf() -> dict:
    p = API_DIR / "audio_to_video_api.json"
    if not p.is_file():
        pytest.fail("workflows/api/audio_to_video_api.json is missing")
    return load_api(p)


def still_editor(base_wf: dict, keyframes: str = "", **sliders) -> tuple[dict, str]:
    """LoadImage + Load Models + Extract Motion -> Expression Edit on the still portrait (preview 'first')."""
    ex = one(base_wf, "PlaymateExtractMotion")
    wf = upstream(base_wf, ex)
    models = wf[ex]["inputs"]["models"]
    inputs = {"models": models, "source": [ex, 0], **{c: 0.0 for c in CONTROLS}, **sliders,
              "keyframes": keyframes, "preview": "first", "still_seconds": 0.0, "fps": 25.0}
    return wf, add_node(wf, "PlaymateExpressionEdit", inputs)


def test_nodes_are_registered_with_sliders(object_info):
    for node in ("PlaymateBlinksSilence", "PlaymateExpressionEdit"):
        assert node in object_info, f"{node} is not registered"
        assert object_info[node]["category"] == "Playmate/motion"
    editor = object_info["PlaymateExpressionEdit"]
    assert editor["output_node"] is True
    required = editor["input"]["required"]
    for name in CONTROLS:
        assert required[name][0] == "FLOAT" and required[name][1].get("display") == "slider", required[name]
    assert "motion" in editor["input"]["optional"]
    blinks = object_info["PlaymateBlinksSilence"]["input"]["required"]
    assert {"motion", "audio", "blink_rate", "seed", "silence_strength", "min_pause", "ease"} <= set(blinks)


def test_still_portrait_preview_is_shown_on_the_node(client, uploaded, base_wf):
    wf, editor = still_editor(base_wf, smile=0.5)
    r = client.run(wf, timeout=300)
    assert r.status == "success", describe(r)
    images = r.outputs.get(editor, {}).get("images")
    assert images and len(images) == 1 and images[0]["type"] == "temp", r.outputs
    wf[editor]["inputs"]["smile"] = 0.9                                   # a slider moved, queued again
    r2 = client.run(wf, timeout=300)
    assert r2.status == "success", describe(r2)
    again = r2.outputs[editor]["images"]
    assert len(again) == 1 and again[0]["filename"] != images[0]["filename"]


def test_bad_keyframes_name_the_node_the_line_and_the_fix(client, uploaded, base_wf):
    wf, _ = still_editor(base_wf, keyframes="smile: 0:0, 1:0.5\nbrow: 0:0, 1:5")
    r = client.run(wf, timeout=300)
    assert r.status == "execution_error", describe(r)
    e = r.error
    msg = e["exception_message"]
    assert e["node_type"] == "PlaymateExpressionEdit" and msg.startswith("Playmate Expression Edit:"), e
    assert "line 2" in msg and "outside [-1, 1]" in msg and "Traceback" not in msg, msg


def test_blinks_and_silence_feed_motion_preview(client, uploaded, base_wf):
    wf = copy.deepcopy(base_wf)
    a2m, audio = one(wf, "PlaymateAudioToMotion"), one(wf, "LoadAudio")
    wf = upstream(wf, a2m)
    wf[a2m]["inputs"]["steps"] = 4
    idle = add_node(wf, "PlaymateBlinksSilence", {"motion": [a2m, 0], "audio": [audio, 0], "blink_rate": 60.0,
                                                  "seed": 3, "silence_strength": 1.0, "min_pause": 0.2, "ease": 0.1})
    preview = add_node(wf, "PlaymateMotionPreview", {"motion": [idle, 0], "width": 640, "height": 400})
    r = client.run(wf, timeout=300)
    assert r.status == "success", describe(r)
    assert r.outputs.get(preview, {}).get("images"), r.outputs
