"""Interrupting a long render on the real server stops it within seconds, and the server keeps serving."""
from __future__ import annotations

import copy
import time

import pytest

from .e2e_env import API_DIR
from .e2e_helpers import describe, extract_only, load_api, nodes_of, set_literal

STOP_WITHIN_S = 10.0


def test_interrupt_long_render(client, uploaded, object_info):
    p = API_DIR / "audio_to_video_api.json"
    if not p.is_file():
        pytest.fail("workflows/api/audio_to_video_api.json is missing")
    base = load_api(p)
    wf = copy.deepcopy(base)
    assert set_literal(wf, "audio", uploaded["speech_long.wav"])
    a2m = nodes_of(wf, "PlaymateAudioToMotion")
    code, body = client.submit(wf)
    assert code == 200, body
    pid = body["prompt_id"]
    assert client.wait_running(pid, timeout=60), "the prompt never started running"
    time.sleep(3.0)                       # well inside the work (model load, sampling, rendering)
    assert client.history(pid) is None, "the long render finished before it could be interrupted; make it longer"
    t0 = time.time()
    assert client.interrupt(pid) == 200
    h = client.wait(pid, timeout=60)
    dt = time.time() - t0
    events = [m[0] for m in (h.get("status") or {}).get("messages", [])]
    assert "execution_interrupted" in events, events
    assert dt < STOP_WITHIN_S, f"took {dt:.1f} s to stop after /interrupt"
    print(f"[e2e] interrupt: stopped {dt:.2f} s after POST /interrupt (AudioToMotion nodes {a2m})")
    # the server keeps serving: a cheap prompt running a Playmate node succeeds
    good, preview = extract_only(base, object_info)
    r = client.run(good, timeout=300)
    assert r.status == "success", describe(r)
    assert r.outputs.get(preview, {}).get("images"), r.outputs
