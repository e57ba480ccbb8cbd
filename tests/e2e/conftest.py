"""End-to-end fixtures: ONE real ComfyUI 0.3.75 server (CPU) for all e2e tests, with this repo linked as
custom_nodes/ComfyUI-Playmate, tiny random demo models (tools/make_demo_models.py, no download) and real
inputs (a face photo, espeak-ng speech, a driving video) uploaded through the HTTP API.

Where ComfyUI comes from: $PLAYMATE_COMFY_VENV, else the running venv (CI: .ci/run installs ComfyUI into
.venv-ci), else .venv-comfyui in the repo. When none holds ComfyUI the e2e tests FAIL, unless
PLAYMATE_E2E_OPTIONAL=1 (then they are skipped with the reason). Same for chromium / playwright-core
(the UI check).
"""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from .e2e_env import (ASSETS, E2E, PUBLIC_DEMO_LINKS, LONG_TEXT, SHORT_S, SPEECH_S, SPEECH_TEXT, comfy_client, comfy_dir,  # noqa: F401
                      comfy_server, find_comfy_venv, unavailable)


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end tests against a real ComfyUI server (tests/e2e)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# ---------------------------------------------------------------------------------------- inputs
def espeak(text: str, out: Path) -> Path:
    exe = shutil.which("espeak-ng")
    if not exe:
        unavailable("espeak-ng is not installed (apt-get install -y espeak-ng)")
    subprocess.run([exe, "-w", str(out), text], check=True, capture_output=True)
    return out


def cut_audio(src: Path, out: Path, seconds: float) -> Path:
    """The first SECONDS of SRC (any format PyAV reads) as 16-bit PCM wav, channels and rate kept."""
    import av

    with av.open(str(src)) as c:
        st = c.streams.audio[0]
        sr, ch = st.codec_context.sample_rate, st.codec_context.channels
        chunks = [f.to_ndarray().reshape(-1, ch) if f.format.is_packed else f.to_ndarray().T
                  for f in c.decode(audio=0)]
    pcm = np.concatenate(chunks)[: int(round(seconds * sr))]
    if pcm.dtype.kind == "f":
        pcm = np.clip(pcm * 32767.0, -32768, 32767)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.astype("<i2").tobytes())
    return out


def write_png(arr: np.ndarray, out: Path) -> Path:
    from PIL import Image

    Image.fromarray(arr).save(out)
    return out


def write_driving_video(face: np.ndarray, out: Path, frames: int = 25, fps: int = 25) -> Path:
    """A real face moving: the photo shifted and rotated a little per frame, H.264 mp4 (even size)."""
    import av
    import cv2

    h, w = face.shape[:2]
    container = av.open(str(out), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    for i in range(frames):
        t = i / frames * 2 * math.pi
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 6 * math.sin(t), 1.0)
        m[:, 2] += (6 * math.sin(t), 4 * math.cos(t))
        img = cv2.warpAffine(face, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        for p in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            container.mux(p)
    for p in stream.encode():
        container.mux(p)
    container.close()
    return out


@pytest.fixture(scope="session")
def e2e_inputs(tmp_path_factory) -> dict:
    """Local files: face.png (bundled or the astronaut, 512x512), face_odd.png (odd-size crop), grey.png
    (no face), speech.wav (bundled or espeak-ng, cut to SPEECH_S), speech_short.wav (SHORT_S), speech_long.wav
    (espeak-ng, ~29 s: the render to interrupt), driving.mp4 (bundled, or the photo moving for 1 s)."""
    from skimage.data import astronaut

    d = tmp_path_factory.mktemp("e2e-inputs")
    files = {}
    astro = astronaut()                                  # 512x512x3 uint8, a real face photo
    if (ASSETS / "face.png").is_file():
        files["face.png"] = shutil.copy(ASSETS / "face.png", d / "face.png")
    else:
        files["face.png"] = write_png(astro, d / "face.png")
    files["face_odd.png"] = write_png(np.ascontiguousarray(astro[5:336, 60:359]), d / "face_odd.png")  # 299x331
    files["grey.png"] = write_png(np.full((256, 256, 3), 128, np.uint8), d / "grey.png")
    # The renderer is the slow part on CPU: the e2e clips are short (the bundled speech is cut to
    # SPEECH_S; non-round lengths so that ceil(duration x fps) is tested, not a lucky integer).
    full = ASSETS / "speech.wav" if (ASSETS / "speech.wav").is_file() else espeak(SPEECH_TEXT, d / "speech_full.wav")
    files["speech.wav"] = cut_audio(full, d / "speech.wav", SPEECH_S)
    files["speech_short.wav"] = cut_audio(full, d / "speech_short.wav", SHORT_S)
    files["speech_long.wav"] = espeak(LONG_TEXT, d / "speech_long.wav")
    if (ASSETS / "driving.mp4").is_file():
        files["driving.mp4"] = shutil.copy(ASSETS / "driving.mp4", d / "driving.mp4")
    else:
        files["driving.mp4"] = write_driving_video(np.ascontiguousarray(astro[0:320, 96:416]), d / "driving.mp4")
    return {k: Path(v) for k, v in files.items()}


# ---------------------------------------------------------------------------------------- server
@pytest.fixture(scope="session")
def comfy(tmp_path_factory):
    """The running server (tools/comfyui/server.py ComfyServer); stopped at the end of the session."""
    venv = find_comfy_venv()
    if venv is None:
        unavailable("no venv with ComfyUI 0.3.75 found ($PLAYMATE_COMFY_VENV, the running venv, .venv-ci, .venv-comfyui)")
    base = tmp_path_factory.mktemp("comfy-base")
    try:
        srv = comfy_server.start_server(venv, base, extra_args=["--cache-none"], timeout=240, comfy_dir=comfy_dir(venv))
    except comfy_server.ServerError as e:
        pytest.fail(f"ComfyUI did not start with the Playmate pack:\n{e}", pytrace=False)
    for public, demo in PUBLIC_DEMO_LINKS.items():   # shipped workflows naming the public files run unchanged
        (srv.base / "models" / public).symlink_to(srv.base / "models" / demo)
    yield srv
    srv.stop()
    if "(IMPORT FAILED)" in srv.log_text():   # e.g. a lazily imported module failing later
        print(srv.log_tail(80), file=sys.stderr)


@pytest.fixture(scope="session")
def client(comfy):
    return comfy_client.ComfyClient(comfy.url, timeout=120)


@pytest.fixture(scope="session")
def uploaded(client, e2e_inputs) -> dict:
    """Upload every input into the server's input/ (names as the workflows expect them)."""
    return {name: client.upload(path) for name, path in e2e_inputs.items()}


@pytest.fixture(scope="session")
def object_info(client) -> dict:
    return client.object_info()


