"""Hostile and careless clients against the real server (issue: every entrance holds).

Each case checks what it throws at the server and then that the server still runs a good prompt and
that nothing half-written is left in output/: path names in every name input, pickles in every model
slot, broken files, loud / odd / oversized audio, a huge image, combo values not in their lists,
wrong types, a queue of prompts, cancel while encoding, and kill -9 mid-render followed by a restart.
"""
from __future__ import annotations

import copy
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from .e2e_env import API_DIR, comfy_server, find_comfy_venv
from .e2e_helpers import describe, emotion_node, extract_only, load_api, one, probe_mp4, set_literal, upstream

MARKER = "/tmp/playmate-e2e-pickle-ran"
STOP_WITHIN_S = 30.0      # "cancel works": a few rendered frames on a loaded 2-core machine (about 1 s idle)


class _Payload:
    """Unpickling this runs a shell command that creates MARKER: a loader that unpickles it fails the test."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


@pytest.fixture(scope="module")
def base_wf() -> dict:
    return load_api(API_DIR / "audio_to_video_api.json")


def serving_and_clean(client, comfy, base_wf, object_info) -> None:
    """A good prompt still runs, and output/ holds no partial file (visible or hidden)."""
    good, preview = extract_only(base_wf, object_info)
    r = client.run(good, timeout=300)
    assert r.status == "success" and r.outputs.get(preview, {}).get("images"), describe(r)
    partial = [p for p in (comfy.base / "output").rglob("*") if ".part" in p.name]
    assert not partial, f"partial files in output/: {partial}"


def rejected(client, wf) -> str:
    """The refusal text; HTTP 400 (nothing queued) or, where other output nodes of the prompt are valid,
    ComfyUI's partial queueing with the refused node listed in node_errors (it never runs)."""
    code, body = client.submit(wf)
    assert code == 400 or (code == 200 and body.get("node_errors")), f"expected a refusal, got {code}: {body}"
    if code == 200:
        client.wait(body["prompt_id"], timeout=600)
    return " | ".join(f"{x.get('type')}: {x.get('details', '')}" for errs in body["node_errors"].values()
                      for x in errs["errors"])


def float_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """A 32-bit float WAV (format 3) written by hand, any declared rate."""
    data = samples.astype("<f4").tobytes()
    header = b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += (3).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
    header += (rate * 4).to_bytes(4, "little") + (4).to_bytes(2, "little") + (32).to_bytes(2, "little")
    path.write_bytes(header + b"data" + len(data).to_bytes(4, "little") + data)
    return path


# ---- names -------------------------------------------------------------------------------------------
PROBES = ["../../../../../../etc/passwd", "../../../../../../etc/no-such-file", "/etc", "/etc/passwd",
          "/no/such/dir", "..", "../models", "../comfyui.log", "playmate/../../input"]


@pytest.mark.parametrize("slot", ["liveportrait", "motion_model", "emotion_model", "audio_encoder", "file"])
def test_names_resolve_inside_their_folders_or_not_at_all(client, comfy, uploaded, base_wf, object_info, slot):
    messages = {}
    for name in PROBES + [str(comfy.base / "comfyui.log"), str(comfy.base / "models")]:
        if slot == "file":
            wf = {"1": {"class_type": "PlaymateLoadMotion", "inputs": {"file": name}},
                  "2": {"class_type": "PlaymateMotionPreview", "inputs": {"motion": ["1", 0], "width": 320,
                                                                          "height": 240}}}
        else:
            wf = copy.deepcopy(base_wf)
            wf[one(wf, "PlaymateLoadModels")]["inputs"][slot] = name
        text = rejected(client, wf)
        messages[name] = text.replace(name, "NAME")
        assert f"'{name}' is not one of the entries" in text, text
        outside = [p for p in (str(comfy.base), "/etc", "/no/such") if p in text.replace(name, "")]
        assert not outside, f"a server path outside the model folders leaks: {outside} in {text}"
    assert len(set(messages.values())) == 1, f"the refusal differs by name (an existence oracle): {messages}"
    serving_and_clean(client, comfy, base_wf, object_info)


def _motion_file(path: Path) -> Path:
    """A small valid motion file (what Save Motion writes: 5 frames at 25 fps)."""
    import torch
    from safetensors.torch import save_file
    from playmate_core.motion.layout import layout_json
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": "playmate-motion", "version": "1", "trained": "false", "origin": "audio", "fps": "25",
            "layout": layout_json()}
    save_file({"values": torch.zeros(5, 70), "kp": torch.zeros(1, 21, 3)}, str(path), metadata=meta)
    return path


def test_load_motion_lists_output_files_and_only_those(client, comfy, uploaded, base_wf, object_info):
    """Load Motion lists output/ files as '<name> [output]' and loads them; every other spelling (traversal,
    absolute paths, other tags, a tag on an input name, temp/ and files next to the folders) is refused
    with one message that never says whether the file exists."""
    made = [_motion_file(comfy.base / "output" / "e2e-hostile" / "ok.motion.safetensors"),
            _motion_file(comfy.base / "input" / "in_only.motion.safetensors"),
            _motion_file(comfy.base / "temp" / "tmp.motion.safetensors"),
            _motion_file(comfy.base / "secret.motion.safetensors")]
    try:
        listed = client.object_info("PlaymateLoadMotion")["PlaymateLoadMotion"]["input"]["required"]["file"]
        options = listed[0] if isinstance(listed[0], list) else listed[1]["options"]
        good = "e2e-hostile/ok.motion.safetensors [output]"
        assert good in options and "in_only.motion.safetensors" in options, options
        assert not [o for o in options if "tmp.motion" in o or "secret" in o], options

        def prompt(name: str) -> dict:
            return {"1": {"class_type": "PlaymateLoadMotion", "inputs": {"file": name}},
                    "2": {"class_type": "PlaymateMotionPreview", "inputs": {"motion": ["1", 0], "width": 320,
                                                                            "height": 240}}}
        r = client.run(prompt(good), timeout=120)
        assert r.status == "success" and r.outputs["2"]["images"], describe(r)
        probes = ["e2e-hostile/ok.motion.safetensors", "e2e-hostile/ok.motion.safetensors[output]",
                  "e2e-hostile/ok.motion.safetensors [output] [output]", "e2e-hostile/ok.motion.safetensors [input]",
                  "e2e-hostile/ok.motion.safetensors [temp]", "in_only.motion.safetensors [output]",
                  "tmp.motion.safetensors [temp]", "../temp/tmp.motion.safetensors [output]",
                  "../secret.motion.safetensors [output]", "../secret.motion.safetensors",
                  "e2e-hostile/../../secret.motion.safetensors [output]", "../output/e2e-hostile/ok.motion.safetensors",
                  f"{comfy.base / 'secret.motion.safetensors'} [output]", str(comfy.base / "secret.motion.safetensors"),
                  "nope.motion.safetensors [output]", " [output]"]
        messages = {}
        for name in probes:
            text = rejected(client, prompt(name))
            assert f"'{name}' is not one of the entries" in text, text
            rest = text.replace(f"'{name}'", "'NAME'")                  # the quoted name only
            assert str(comfy.base) not in rest and "secret" not in rest, f"a path outside the folders leaks: {text}"
            messages[name] = rest
        assert len(set(messages.values())) == 1, f"the refusal differs by name (an existence oracle): {messages}"
    finally:
        for p in made:
            p.unlink(missing_ok=True)
        (comfy.base / "output" / "e2e-hostile").rmdir()
    serving_and_clean(client, comfy, base_wf, object_info)


# ---- pickles and broken files ------------------------------------------------------------------------------
def test_pickles_in_every_slot_never_run(client, comfy, uploaded, base_wf, object_info):
    import torch
    models, made = comfy.base / "models", []

    def put(path: Path, payload) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path) if payload is not None else path.write_bytes(b"\x80\x04broken")
        made.append(path)

    Path(MARKER).unlink(missing_ok=True)
    put(models / "playmate" / "evil.pt", {"denoising_net.x": _Payload(), "start_motion_feat": 1})
    put(models / "playmate" / "evil_emotion.pth", {"x": _Payload()})
    for slot in ("appearance_feature_extractor", "motion_extractor", "warping_module", "spade_generator"):
        put(models / "liveportrait" / "evilset" / "base_models" / f"{slot}.pth", {"x": _Payload()})
    put(models / "liveportrait" / "evilset" / "retargeting_models" / "stitching_retargeting_module.pth",
        {"x": _Payload()})
    enc = models / "audio_encoders" / "evil-encoder"
    src = next(p for p in (models / "audio_encoders").iterdir() if (p / "config.json").is_file())
    enc.mkdir()
    (enc / "config.json").write_bytes((src / "config.json").read_bytes())
    put(enc / "pytorch_model.bin", {"x": _Payload()})
    (comfy.base / "input" / "evil.motion.safetensors").write_bytes(__import__("pickle").dumps(_Payload()))
    made += [comfy.base / "input" / "evil.motion.safetensors", enc / "config.json", enc]
    try:
        cases = [{"liveportrait": "evilset"}, {"motion_model": "evil.pt"},
                 {"audio_encoder": "evil-encoder"}]
        for change in cases:
            wf = copy.deepcopy(base_wf)
            wf[one(wf, "PlaymateLoadModels")]["inputs"].update(change)
            r = client.run(wf, timeout=300)
            assert r.status == "execution_error", describe(r)
            msg = r.error["exception_message"]
            assert msg.startswith(("Playmate Load Models:", "Playmate Audio To Motion:")), msg
            print(f"[e2e] pickle in {change}: {msg.strip()[:200]}")
        load = {"1": {"class_type": "PlaymateLoadMotion", "inputs": {"file": "evil.motion.safetensors"}},
                "2": {"class_type": "PlaymateMotionPreview", "inputs": {"motion": ["1", 0], "width": 320, "height": 240}}}
        r = client.run(load, timeout=120)
        assert r.status == "execution_error" and "not a valid Playmate motion file" in r.error["exception_message"]
        assert not Path(MARKER).exists(), "a pickle payload ran on the server"
    finally:
        for p in made:
            p.rmdir() if p.is_dir() else p.unlink(missing_ok=True)
        import shutil
        shutil.rmtree(models / "liveportrait" / "evilset", ignore_errors=True)
    serving_and_clean(client, comfy, base_wf, object_info)


def test_motion_file_with_hostile_metadata_is_refused_on_load(client, comfy, base_wf, object_info):
    from safetensors.torch import save_file
    import torch
    good = {"values": torch.zeros(5, 70), "kp": torch.zeros(1, 21, 3)}
    meta = {"format": "playmate-motion", "version": "1", "trained": "false", "origin": "audio",
            "layout": __import__("playmate_core.motion.layout", fromlist=["layout_json"]).layout_json()}
    cases = {"fps_tiny": ({**meta, "fps": "1e-300"}, good, "1 to 120 fps"),
             "fps_huge": ({**meta, "fps": "1e308"}, good, "1 to 120 fps"),
             "values_huge": ({**meta, "fps": "25"}, {**good, "values": torch.full((5, 70), 1e30)}, "outside the plausible")}
    for name, (m, tensors, fragment) in cases.items():
        path = comfy.base / "input" / f"hostile_{name}.motion.safetensors"
        save_file(tensors, str(path), metadata=m)
        wf = {"1": {"class_type": "PlaymateLoadMotion", "inputs": {"file": path.name}},
              "2": {"class_type": "PlaymateMotionPreview", "inputs": {"motion": ["1", 0], "width": 320, "height": 240}}}
        r = client.run(wf, timeout=120)
        path.unlink()
        assert r.status == "execution_error", describe(r)
        msg = r.error["exception_message"]
        assert msg.startswith("Playmate Load Motion:") and fragment in msg and "Save Motion" in msg, msg
    serving_and_clean(client, comfy, base_wf, object_info)


# ---- audio ---------------------------------------------------------------------------------------------------
def test_loud_float_audio_renders_and_never_stalls_the_encoders(client, comfy, uploaded, base_wf, object_info, tmp_path):
    """Noise at +-1e8 in a float WAV stalled FFmpeg's AAC encoder for good; now it is scaled to full scale
    before the pack's writer and before Render Frames passes it on to ComfyUI's own Save Video."""
    rng = np.random.default_rng(0)
    loud = client.upload(float_wav(tmp_path / "loud.wav", 1e8 * rng.uniform(-1, 1, 8000), 16000))   # 0.5 s
    wf = copy.deepcopy(base_wf)
    set_literal(wf, "audio", loud)
    wf[one(wf, "PlaymateAudioToMotion")]["inputs"]["fps"] = 12.5
    frames = one(wf, "PlaymateRenderFrames")
    t0 = time.time()
    r = client.run(wf, timeout=900)
    assert r.status == "success", describe(r)
    mp4 = [f for f in r.files if f["filename"].endswith(".mp4")]
    assert mp4 and frames in wf, r.outputs
    info = probe_mp4(comfy.base / "output" / mp4[0]["subfolder"] / mp4[0]["filename"])
    assert info["audio_samples"] > 0
    print(f"[e2e] loud audio (+-1e8) rendered and saved in {time.time() - t0:.1f} s")
    serving_and_clean(client, comfy, base_wf, object_info)


@pytest.mark.parametrize("rate, seconds, fragment", [(1, 100, "sample rate of 1 Hz"),
                                                     (4000, 1801, "1801 s long; the limit is 1800 s")])
def test_odd_audio_is_refused_before_heavy_work(client, comfy, uploaded, base_wf, object_info, tmp_path,
                                                rate, seconds, fragment):
    name = client.upload(float_wav(tmp_path / f"odd_{rate}.wav", np.zeros(rate * seconds), rate))
    wf = copy.deepcopy(base_wf)
    set_literal(wf, "audio", name)
    r = client.run(wf, timeout=300)
    assert r.status == "execution_error", describe(r)
    msg = r.error["exception_message"]
    assert msg.startswith("Playmate") and fragment in msg, msg
    serving_and_clean(client, comfy, base_wf, object_info)


# ---- images --------------------------------------------------------------------------------------------------
def test_huge_photo_is_downscaled_to_the_pixel_limit(client, comfy, uploaded, base_wf, object_info, tmp_path):
    import cv2
    import psutil
    from PIL import Image
    from skimage.data import astronaut
    big = cv2.resize(astronaut(), (8000, 8000), interpolation=cv2.INTER_LINEAR)
    Image.fromarray(big).save(tmp_path / "huge.jpg", quality=85)
    name = client.upload(tmp_path / "huge.jpg")
    wf, preview = extract_only(base_wf, object_info)
    wf[one(wf, "LoadImage")]["inputs"]["image"] = name
    proc = psutil.Process(comfy.pid)
    base_rss, peak = proc.memory_info().rss, 0
    code, body = client.submit(wf)
    assert code == 200, body
    while client.history(body["prompt_id"]) is None:
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.05)
    h = client.history(body["prompt_id"])
    assert h["status"]["status_str"] == "success", h["status"]
    assert "above the 16.8 MP limit; downscaled to 4096x4096" in comfy.log_text()
    print(f"[e2e] 8000x8000 photo: server RSS +{(peak - base_rss) / 2**30:.2f} GiB at peak")
    assert peak - base_rss < 4.0 * 2**30
    serving_and_clean(client, comfy, base_wf, object_info)


# ---- widgets ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("node, name, value", [("PlaymateRenderVideo", "output", "bogus"),
                                               ("PlaymateRenderFrames", "output", "bogus"),
                                               ("PlaymateEmotion", "emotion", "ecstatic"),
                                               ("PlaymateExtractMotion", "on_missing_face", "ignore"),
                                               ("PlaymateLoadModels", "cropper", "dlib"),
                                               ("PlaymateLoadModels", "device", "cuda:7"),
                                               ("PlaymateLoadModels", "precision", "fp8")])
def test_combo_values_not_in_the_list_are_400_with_the_valid_values(client, base_wf, node, name, value):
    if node == "PlaymateRenderVideo":
        full = load_api(API_DIR / "long_audio_to_file_api.json")
        wf = upstream(full, one(full, node))                       # that output node alone
    else:
        wf = copy.deepcopy(base_wf)
        emotion_node(wf, one(wf, "PlaymateAudioToMotion"))
    wf[one(wf, node)]["inputs"][name] = value
    text = rejected(client, wf)
    assert f"{name} '{value}' is not one of the valid values" in text, text


@pytest.mark.parametrize("name, value", [("steps", "many"), ("seed", [1, 2, 3]), ("fps", "25fps")])
def test_wrong_types_are_400(client, base_wf, name, value):
    wf = copy.deepcopy(base_wf)
    wf[one(wf, "PlaymateAudioToMotion")]["inputs"][name] = value
    rejected(client, wf)


def test_overlapping_emotion_track_is_a_clear_error(client, comfy, uploaded, base_wf, object_info):
    wf = load_api(API_DIR / "emotion_control_api.json")
    wf[emotion_node(wf, one(wf, "PlaymateAudioToMotion"))]["inputs"]["emotion_track"] = "0-3 happy\n2-4 sad"
    r = client.run(wf, timeout=300)
    assert r.status == "execution_error", describe(r)
    assert "overlap" in r.error["exception_message"] and r.error["exception_message"].startswith("Playmate")
    serving_and_clean(client, comfy, base_wf, object_info)


def test_a_queue_of_prompts_all_finish_with_their_own_outputs(client, comfy, uploaded, base_wf, object_info):
    wf, preview = extract_only(base_wf, object_info)
    ids = []
    for k in range(8):
        w = copy.deepcopy(wf)
        w[one(w, "PlaymateExtractMotion")]["inputs"]["crop_vy"] = -0.125 + 0.001 * k
        code, body = client.submit(w)
        assert code == 200, body
        ids.append(body["prompt_id"])
    names = set()
    for pid in ids:
        h = client.wait(pid, timeout=300)
        assert h["status"]["status_str"] == "success", h["status"]
        names |= {i["filename"] for i in h["outputs"][preview]["images"]}
    assert len(names) == len(ids), names
    serving_and_clean(client, comfy, base_wf, object_info)


# ---- cancel and crash -------------------------------------------------------------------------------------------
def _wait_for_partial(client, staging: Path, pid: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not (staging.is_dir() and any(staging.iterdir())):
        assert time.time() < deadline, "the render never started writing its file"
        assert client.history(pid) is None, "the render finished before it could be stopped; make it longer"
        time.sleep(0.1)


def test_kill_9_mid_render_then_restart_leaves_nothing_half_written(comfy, uploaded, tmp_path, object_info):
    """A second server on the same models: kill -9 while the mp4 is being written, restart, check output/."""
    venv = find_comfy_venv()
    srv = comfy_server.start_server(venv, tmp_path / "crash-base", models_from=comfy.base / "models",
                                    extra_args=["--cache-none"], timeout=240, comfy_dir=comfy.comfy_dir)
    try:
        client = comfy_server_client(srv)
        speech = client.upload(Path(comfy.base / "input" / uploaded["speech_long.wav"]))
        wf = load_api(API_DIR / "long_audio_to_file_api.json")
        set_literal(wf, "audio", speech)
        set_literal(wf, "image", client.upload(Path(comfy.base / "input" / uploaded["face.png"])))
        code, body = client.submit(wf)
        assert code == 200, body
        staging = srv.base / "temp" / "playmate-partial"
        _wait_for_partial(client, staging, body["prompt_id"])
        os.killpg(os.getpgid(srv.pid), signal.SIGKILL)
        srv.proc.wait(timeout=30)
        out = srv.base / "output"
        leftover = [p for p in out.rglob("*") if p.is_file() and (p.suffix == ".mp4" or ".part" in p.name)]
        assert not leftover, f"kill -9 left files in output/: {leftover}"
        (out / ".old.mp4.0123abcd.part.mp4").write_bytes(b"left by an older version")   # swept at start
        srv.start(timeout=240)
        assert not (staging.is_dir() and any(staging.iterdir())), "temp/ was not emptied on restart"
        assert not [p for p in out.rglob("*") if ".part" in p.name], "partial files survived the restart"
        base = load_api(API_DIR / "audio_to_video_api.json")
        set_literal(base, "image", client.upload(Path(comfy.base / "input" / uploaded["face.png"])))
        good, preview = extract_only(base, object_info)
        r = client.run(good, timeout=300)
        assert r.status == "success", describe(r)
    finally:
        srv.stop()


def comfy_server_client(srv):
    from .e2e_env import comfy_client
    return comfy_client.ComfyClient(srv.url, timeout=120)


def test_cancel_while_encoding_stops_within_seconds(client, comfy, uploaded, base_wf, object_info):
    wf = load_api(API_DIR / "long_audio_to_file_api.json")
    set_literal(wf, "audio", uploaded["speech_long.wav"])
    code, body = client.submit(wf)
    assert code == 200, body
    staging = comfy.base / "temp" / "playmate-partial"
    _wait_for_partial(client, staging, body["prompt_id"])
    t0 = time.time()
    assert client.interrupt(body["prompt_id"]) == 200
    h = client.wait(body["prompt_id"], timeout=60)
    dt = time.time() - t0
    assert "execution_interrupted" in [m[0] for m in h["status"]["messages"]]
    assert dt < STOP_WITHIN_S, f"took {dt:.1f} s to stop while encoding"
    assert not any(staging.iterdir()), list(staging.iterdir())
    print(f"[e2e] cancel while encoding: stopped {dt:.2f} s after /interrupt")
    serving_and_clean(client, comfy, base_wf, object_info)
