"""Every shipped API workflow runs to success on the real server; its mp4 has H.264 video with exactly
ceil(audio duration x fps) frames and AAC audio as long as the input speech (one AAC frame of slack).

The renderer is the slow part on a CPU, so the clips are short (e2e_env.SPEECH_S / SHORT_S) and the
shipped workflows run at E2E_FPS = 12.5 (non-integer on purpose); 25 (as shipped) and 30 fps run on
the shorter clip."""
from __future__ import annotations

import json
import time

import pytest

from .e2e_env import E2E_FPS, api_workflows
from .e2e_helpers import (AAC_FRAME, audio_samples, describe, expected_frames, input_files, load_api, mp4_files,
                         probe_mp4, set_literal, workflow_fps)

TIMEOUT = 420
TIMINGS: dict = {}


def run_and_check(client, e2e_inputs, wf: dict, outdir, label: str, fps_override: float | None = None) -> list[dict]:
    if fps_override is not None:
        changed = set_literal(wf, "fps", fps_override)
        assert changed, f"{label}: no literal fps input to override"
    fps = workflow_fps(wf)
    t0 = time.time()
    r = client.run(wf, timeout=TIMEOUT, download=outdir)
    TIMINGS[label] = round(time.time() - t0, 1)
    print(f"[e2e] {label}: {r.status} in {TIMINGS[label]} s")
    assert r.status == "success", f"{label}: {describe(r)}"
    videos = mp4_files(r)
    assert videos, f"{label}: no video among the outputs {json.dumps(r.outputs)[:1500]}"
    audio_names = input_files(wf).get("audio", [])
    probes = []
    for f in videos:
        info = probe_mp4(f["saved_to"])
        probes.append(info)
        print(f"[e2e] {label}: {info}")
        assert info["format"].startswith("mov"), info       # mov,mp4,m4a,3gp,3g2,mj2
        assert info["video_codec"] == "h264", info
        assert info["width"] % 2 == 0 and info["height"] % 2 == 0, info
        if fps is not None:
            assert info["rate"] == pytest.approx(fps, abs=1e-3), info
        if audio_names:
            src = e2e_inputs.get(audio_names[0].split("/")[-1])
            assert src is not None, f"{label}: unknown audio input {audio_names[0]}"
            n, sr = audio_samples(src)
            if fps is not None:
                assert info["frames"] == expected_frames(n, sr, fps), \
                    f"{label}: {info['frames']} frames, expected ceil({n}/{sr} s x {fps}) = {expected_frames(n, sr, fps)}"
            assert info.get("audio_codec") == "aac", info
            out_s = info["audio_samples"] / info["sample_rate"]
            in_s = n / sr
            slack = AAC_FRAME / info["sample_rate"] + 1e-3
            assert abs(out_s - in_s) <= slack, \
                f"{label}: audio track {out_s:.4f} s vs input {in_s:.4f} s (more than one AAC frame apart)"
    return probes


@pytest.mark.parametrize("path", api_workflows(), ids=lambda p: p.name)
def test_api_workflow_runs(client, uploaded, e2e_inputs, path, tmp_path):
    wf = load_api(path)
    for kind, names in input_files(wf).items():
        for name in names:
            assert name in uploaded, f"{path.name}: {kind} input {name!r} is not one of the test inputs {sorted(uploaded)}"
    run_and_check(client, e2e_inputs, wf, tmp_path, f"{path.stem}@{E2E_FPS}fps", fps_override=E2E_FPS)


def _audio_to_video(uploaded, audio="speech_short.wav"):
    paths = [p for p in api_workflows() if p.name == "audio_to_video_api.json"]
    if not paths:
        pytest.fail("workflows/api/audio_to_video_api.json is missing")
    wf = load_api(paths[0])
    assert set_literal(wf, "audio", uploaded[audio])
    return wf


@pytest.mark.parametrize("fps", [None, 30], ids=["as-shipped", "30fps"])
def test_frame_count_exact_at_other_fps(client, uploaded, e2e_inputs, tmp_path, fps):
    label = f"audio_to_video short@{fps or 'shipped '}fps"
    run_and_check(client, e2e_inputs, _audio_to_video(uploaded), tmp_path, label, fps_override=fps)


def test_odd_size_photo_gives_even_video(client, uploaded, e2e_inputs, tmp_path):
    wf = _audio_to_video(uploaded)
    assert set_literal(wf, "image", uploaded["face_odd.png"])
    run_and_check(client, e2e_inputs, wf, tmp_path, "audio_to_video short odd-size photo", fps_override=E2E_FPS)


def test_report_timings():
    """Not a check: prints the per-workflow wall times collected above (pytest -s shows them)."""
    print(f"[e2e] workflow timings (s): {json.dumps(TIMINGS)}")
