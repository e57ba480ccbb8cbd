"""Video dubbing through the real server (workflows/api/dub_video_api.json, demo models) on a REAL talking-face
recording (../shared/real-media via tests/pipeline/dub_helpers.py, re-timed to 25 and 29.97 fps, with frames
where the person has left, shorter than the audio):

* exactly ceil(audio x fps) frames at the source's own rate, and an AAC track holding the whole input audio;
* frames without the face are bit-identical to the input frames (lossless crf 0: compared with the writer's own
  round trip of the input frame), and frames with it are unchanged outside the paste-back mask;
* a cancelled dub leaves no partial file, in output/ or in the staging folder.
"""
from __future__ import annotations

import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from .e2e_env import API_DIR, ROOT
from .e2e_helpers import AAC_FRAME, audio_samples, describe, expected_frames, load_api, mp4_files, one, probe_mp4

sys.path.insert(0, str(ROOT / "tests" / "pipeline"))
from dub_helpers import decode, scene, write_clip  # noqa: E402

NTSC = Fraction(30000, 1001)
PATTERN = "FFFF...FFF"                     # 10 frames (0.4 s at 25 fps): shorter than the 0.73 s of speech
MASK_MARGIN = 5                            # px: chroma subsampling and scaling filters reach past the mask edge
TIMEOUT = 600


def _dub_prompt(video_name, audio_name, fps, policy="pingpong", crf=0) -> dict:
    wf = load_api(API_DIR / "dub_video_api.json")
    wf[one(wf, "LoadVideo")]["inputs"]["file"] = video_name
    wf[one(wf, "LoadAudio")]["inputs"]["audio"] = audio_name
    a2m = wf[one(wf, "PlaymateAudioToMotion")]["inputs"]
    a2m.update(fps=float(fps), steps=5)
    wf[one(wf, "PlaymateDubVideo")]["inputs"].update(fps=0.0, policy=policy, crf=crf)      # 0: the source's rate
    return wf


def _round_trip(frame: np.ndarray, tmp: Path) -> np.ndarray:
    """What the writer makes of one input frame at crf 0 (lossless x264, RGB -> yuv420p -> RGB)."""
    from playmate_core.pipeline.video_file import write_video
    write_video(tmp, [frame], 25, crf=0)
    return decode(tmp)[0]


def test_dub_nodes_are_registered(object_info):
    for node in ("PlaymateVideoFaceSource", "PlaymateDubVideo"):
        assert node in object_info, node
    policies = object_info["PlaymateDubVideo"]["input"]["required"]["policy"]
    assert "pingpong" in str(policies) and "stretch" in str(policies)


@pytest.mark.parametrize("fps", [25, NTSC], ids=["25fps", "29.97fps"])
def test_real_video_dub_frames_audio_and_passthrough(client, uploaded, e2e_inputs, fps, tmp_path):
    from playmate_core.crop import FaceCropper
    from playmate_core.crop.paste_back import mask_to_original
    from playmate_core.pipeline.dub_crop import crop_matrices_from_box
    from playmate_core.pipeline.dub_plan import analyse_video
    from playmate_core.pipeline.dub_timing import source_frame_indices

    name = f"dub_real_{float(fps):.2f}.mp4"
    clip = write_clip(tmp_path / name, scene(PATTERN, start=30), fps)
    wf = _dub_prompt(client.upload(clip), uploaded["speech_short.wav"], fps)
    r = client.run(wf, timeout=TIMEOUT, download=tmp_path / "out")
    assert r.status == "success", describe(r)
    (video,) = mp4_files(r)
    info = probe_mp4(video["saved_to"])
    n, sr = audio_samples(e2e_inputs["speech_short.wav"])
    frames = expected_frames(n, sr, fps)
    assert info["frames"] == frames and info["rate"] == pytest.approx(float(fps), abs=1e-6), info
    assert info["audio_codec"] == "aac" and abs(info["audio_samples"] / info["sample_rate"] - n / sr) <= \
        AAC_FRAME / info["sample_rate"] + 1e-3, info
    out, src = decode(video["saved_to"]), decode(clip)
    plan = analyse_video(FaceCropper(), clip)                      # the same detector and crop as the server
    order = source_frame_indices(len(src), fps, frames, fps, "pingpong")
    kernel = np.ones((2 * MASK_MARGIN + 1,) * 2, np.uint8)
    faceless = 0
    for j, k in enumerate(order.tolist()):
        ref = _round_trip(src[k], tmp_path / f"rt{j}.mp4")
        if PATTERN[k] == ".":
            faceless += 1
            assert np.array_equal(out[j], ref), f"output frame {j} (source frame {k}, no face) was changed"
            continue
        assert plan.kept[k]
        mask = mask_to_original(crop_matrices_from_box(plan.boxes[k])[1], plan.size)[:, :, 0] > 0
        outside = cv2.dilate(mask.astype(np.uint8), kernel) == 0
        assert outside.mean() > 0.2
        assert np.array_equal(out[j][outside], ref[outside]), f"frame {j} changed outside the face"
        assert not np.array_equal(out[j][mask], ref[mask])                  # the face itself was rendered
    assert faceless >= 3


def test_cancelled_dub_leaves_no_partial_file(client, comfy, uploaded):
    wf = _dub_prompt(uploaded["driving.mp4"], uploaded["speech_long.wav"], 25, crf=19)
    out_dir, staging = comfy.base / "output", comfy.base / "temp" / "playmate-partial"
    before = {p for p in out_dir.rglob("*") if p.is_file()}
    code, body = client.submit(wf)
    assert code == 200, body
    pid = body["prompt_id"]
    assert client.wait_running(pid, timeout=60)

    def partial() -> bool:
        places = [d for d in (staging, out_dir) if d.is_dir()]
        return any(".part" in p.name for d in places for p in d.rglob(".*"))
    deadline = time.time() + 300                 # wait until the mp4 is being written, then cancel
    while time.time() < deadline and not partial():
        if client.history(pid) is not None:
            pytest.fail("the dub finished before it could be cancelled; make the audio longer")
        time.sleep(0.2)
    assert partial(), "no partial mp4 appeared within 300 s"
    assert client.interrupt(pid) == 200
    h = client.wait(pid, timeout=60)
    assert "execution_interrupted" in [m[0] for m in (h.get("status") or {}).get("messages", [])]
    assert not partial(), "the cancelled dub left its partial file"
    new = {p for p in out_dir.rglob("*") if p.is_file()} - before
    assert not [p for p in new if p.suffix == ".mp4"], f"files left: {sorted(new)}"
