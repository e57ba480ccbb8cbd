"""On the real server: empty audio, missing or wrong-kind model files give node errors that name the
fix; a cancelled file-backed render leaves no partial file in output/; a second prompt with the same
models reuses them (no reload), and the time of both is reported."""
from __future__ import annotations

import copy
import re
import time

import pytest

from .e2e_env import API_DIR
from .e2e_helpers import add_node, describe, emotion_node, extract_only, load_api, one, set_literal

DEMO_MOTION = "playmate-motion-tiny-untrained.safetensors"
DEMO_EMOTION = "playmate-emotion-tiny-untrained.safetensors"


@pytest.fixture(scope="module")
def base_wf() -> dict:
    return load_api(API_DIR / "audio_to_video_api.json")


def _node_error(client, wf, node_type: str) -> str:
    r = client.run(wf, timeout=300)
    assert r.status == "execution_error", describe(r)
    assert r.error["node_type"] == node_type, r.error
    msg = r.error["exception_message"]
    assert "Traceback" not in msg
    print(f"[e2e] {node_type}: {msg.strip()}")
    return msg


def _serving(client, base_wf, object_info) -> None:
    good, preview = extract_only(base_wf, object_info)
    r = client.run(good, timeout=300)
    assert r.status == "success" and r.outputs.get(preview, {}).get("images"), describe(r)


def test_empty_audio_names_the_node_and_the_fix(client, uploaded, base_wf, object_info):
    wf = copy.deepcopy(base_wf)
    empty = add_node(wf, "EmptyAudio", {"duration": 0.0, "sample_rate": 16000, "channels": 1})
    a2m = one(wf, "PlaymateAudioToMotion")
    wf[a2m]["inputs"]["audio"] = [empty, 0]
    del wf[one(wf, "LoadAudio")]
    for node in wf.values():                                     # Render Frames passes the audio through
        if node["inputs"].get("audio") and isinstance(node["inputs"]["audio"], list):
            node["inputs"]["audio"] = [empty, 0]
    msg = _node_error(client, wf, "PlaymateAudioToMotion")
    assert msg.startswith("Playmate Audio To Motion:") and "empty" in msg.lower(), msg
    _serving(client, base_wf, object_info)


def test_missing_liveportrait_files_list_the_expected_paths(client, comfy, uploaded, base_wf, object_info):
    """'human' is always listed (shared workflows validate everywhere); without its files the loader names
    the expected paths inside the model folder and where to get them (download 'never': no network)."""
    wf = copy.deepcopy(base_wf)
    wf[one(wf, "PlaymateLoadModels")]["inputs"].update(liveportrait="human", download="never")
    folder = comfy.base / "models" / "liveportrait"
    folder.rename(folder.with_name("liveportrait.off"))
    try:
        msg = _node_error(client, wf, "PlaymateLoadModels")
    finally:
        folder.with_name("liveportrait.off").rename(folder)
    assert msg.startswith("Playmate Load Models:"), msg
    for slot in ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator"):
        assert f"{slot}.safetensors" in msg, msg
    assert "models/liveportrait" in msg and "huggingface.co" in msg and "download to 'if missing'" in msg, msg
    _serving(client, base_wf, object_info)


@pytest.mark.parametrize("motion, emotion, fragment", [
    (DEMO_EMOTION, "none", "stage-1"),                 # the emotion module in the motion slot
    (DEMO_MOTION, DEMO_MOTION, "two files hold the stage1"),   # a stage-1 file in the emotion slot
])
def test_wrong_kind_of_checkpoint_in_a_slot(client, uploaded, base_wf, motion, emotion, fragment):
    wf = copy.deepcopy(base_wf)
    loader = one(wf, "PlaymateLoadModels")
    wf[loader]["inputs"].update(motion_model=motion, emotion_model=emotion)
    msg = _node_error(client, wf, "PlaymateLoadModels")
    assert fragment in msg and motion in msg, msg


def test_cancelled_file_render_leaves_no_partial_file(client, comfy, uploaded):
    wf = load_api(API_DIR / "long_audio_to_file_api.json")
    assert set_literal(wf, "audio", uploaded["speech_long.wav"])
    out_dir = comfy.base / "output"
    before = {p for p in out_dir.rglob("*") if p.is_file()}
    code, body = client.submit(wf)
    assert code == 200, body
    pid = body["prompt_id"]
    assert client.wait_running(pid, timeout=60)
    staging = comfy.base / "temp" / "playmate-partial"          # partial files never sit in output/
    deadline = time.time() + 240                 # wait until the mp4 is being written, then cancel
    while time.time() < deadline and not (staging.is_dir() and any(p.name.endswith(".part.mp4")
                                                                   for p in staging.iterdir())):
        if client.history(pid) is not None:
            pytest.fail("the long render finished before it could be cancelled; make the audio longer")
        time.sleep(0.2)
    assert client.interrupt(pid) == 200
    h = client.wait(pid, timeout=60)
    assert "execution_interrupted" in [m[0] for m in (h.get("status") or {}).get("messages", [])]
    new = {p for p in out_dir.rglob("*") if p.is_file()} - before
    assert not list(staging.iterdir()), f"the cancelled partial file is still in temp/: {list(staging.iterdir())}"
    assert not [p for p in new if p.suffix == ".mp4" or ".part" in p.name], f"partial files left: {sorted(new)}"
    assert all(p.name.endswith(".motion.safetensors") for p in new), sorted(new)   # finished outputs are kept


def test_second_prompt_reuses_the_loaded_models(client, comfy, uploaded, base_wf, object_info):
    wf, preview = extract_only(base_wf, object_info)
    ex = one(wf, "PlaymateExtractMotion")
    times, logs = [], []
    for k in (0, 1):                                       # --cache-none: every node really runs again
        wf[ex]["inputs"]["crop_vy"] = -0.125 + 0.001 * k
        mark = len(comfy.log_text())
        r = client.run(wf, timeout=300)
        assert r.status == "success", describe(r)
        times.append(r.elapsed_s)
        logs.append(comfy.log_text()[mark:])
    reuse = re.findall(r"Playmate models reused from the cache in ([0-9.]+) s", logs[1])
    assert reuse and "Playmate models loaded in" not in logs[1], f"the second prompt reloaded the models:\n{logs[1]}"
    load = re.findall(r"Playmate models loaded in ([0-9.]+) s", logs[0])
    print(f"[e2e] first prompt {times[0]:.2f} s (models {'loaded in ' + load[0] + ' s' if load else 'already loaded'}), "
          f"second prompt {times[1]:.2f} s (models reused in {reuse[0]} s)")


def test_saved_motion_loads_back_and_previews(client, comfy, uploaded):
    wf = load_api(API_DIR / "long_audio_to_file_api.json")
    del wf[one(wf, "PlaymateRenderVideo")]                        # keep: models, image, audio, motion, save
    r = client.run(wf, timeout=300)
    assert r.status == "success", describe(r)
    out = r.outputs[one(wf, "PlaymateSaveMotion")]
    saved = out["playmate_motion"][0]
    assert saved["filename"].endswith(".motion.safetensors") and saved["type"] == "output"
    entry = f"{saved['subfolder'] + '/' if saved['subfolder'] else ''}{saved['filename']} [output]"
    assert entry in out["text"][0], out["text"]                   # the node names the entry to choose
    listed = client.object_info("PlaymateLoadMotion")["PlaymateLoadMotion"]["input"]["required"]["file"]
    assert entry in listed[0] if isinstance(listed[0], list) else entry in listed[1]["options"], listed
    src = comfy.base / "output" / saved["subfolder"] / saved["filename"]
    dst = comfy.base / "input" / "e2e_motion.motion.safetensors"
    dst.write_bytes(src.read_bytes())                             # a file the user put in input/ loads too
    for name in (entry, dst.name):                                # straight from output/, and from input/
        load = {"1": {"class_type": "PlaymateLoadMotion", "inputs": {"file": name}},
                "2": {"class_type": "PlaymateMotionPreview", "inputs": {"motion": ["1", 0], "width": 640,
                                                                        "height": 360}}}
        r2 = client.run(load, timeout=120)
        assert r2.status == "success", describe(r2)
        assert r2.outputs["2"]["images"], r2.outputs
    bad = {**load, "1": {"class_type": "PlaymateLoadMotion", "inputs": {"file": "nope.motion.safetensors"}}}
    r3 = client.run(bad, timeout=120)
    assert r3.status in ("validation_error", "execution_error"), describe(r3)
    assert "Save Motion" in str(r3.error), r3.error


def test_joyvasa_backend_refuses_emotion(client, uploaded):
    wf = load_api(API_DIR / "joyvasa_audio_to_video_api.json")
    loader = one(wf, "PlaymateLoadModels")
    wf[loader]["inputs"].update(motion_model="joyvasa-tiny-random.pt", audio_encoder="hubert-tiny-random")
    wf[emotion_node(wf, one(wf, "PlaymateAudioToMotion"))]["inputs"]["emotion"] = "happy"
    msg = _node_error(client, wf, "PlaymateAudioToMotion")
    assert "JoyVASA backend has no emotion control" in msg and "disconnect the Playmate Emotion node" in msg, msg
    wf[loader]["inputs"]["emotion_model"] = DEMO_EMOTION                # and at load time
    msg = _node_error(client, wf, "PlaymateLoadModels")
    assert "no emotion module" in msg, msg
