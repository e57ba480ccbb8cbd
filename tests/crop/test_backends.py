"""Backend choice and the InsightFace (buffalo_l) backend's pure parts; no model files needed."""
import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from playmate_core.crop import FaceCropper, make_backend
from playmate_core.crop import insightface_backend as ifb
from playmate_core.crop.insightface_backend import InsightFaceBackend
from playmate_core.crop.mediapipe_backend import MediaPipeBackend

ROOT = Path(__file__).resolve().parents[2]


def make_buffalo(folder):
    folder.mkdir(parents=True)
    for name in (ifb.DETECTOR_FILE, ifb.LANDMARK_FILE):
        (folder / name).write_bytes(b"not a real model")
    return folder


def test_missing_files_error_lists_expected_paths(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        InsightFaceBackend(tmp_path)
    msg = str(err.value)
    for expected in (tmp_path / "models" / "buffalo_l" / "det_10g.onnx",
                     tmp_path / "buffalo_l" / "2d106det.onnx"):
        assert str(expected) in msg
    assert "non-commercial" in msg and "mediapipe" in msg
    with pytest.raises(FileNotFoundError, match="insightface_root"):
        make_backend("insightface", None)


def test_only_one_file_is_not_enough(tmp_path):
    folder = make_buffalo(tmp_path / "models" / "buffalo_l")
    (folder / ifb.LANDMARK_FILE).unlink()
    assert ifb.buffalo_l_paths(tmp_path) is None


@pytest.mark.parametrize("subfolder, root_is_pack", [
    ("models/buffalo_l", False),     # root = ComfyUI/models/insightface
    ("buffalo_l", False),            # root = .../insightface/models
    ("buffalo_l", True),             # root = the buffalo_l folder itself
])
def test_buffalo_l_is_found_in_each_layout(tmp_path, subfolder, root_is_pack):
    folder = make_buffalo(tmp_path / subfolder)
    det, lmk = ifb.require_buffalo_l(folder if root_is_pack else tmp_path)
    assert (det, lmk) == (folder / "det_10g.onnx", folder / "2d106det.onnx")


def test_auto_picks_mediapipe_without_files(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="playmate"):
        assert isinstance(make_backend("auto", str(tmp_path)), MediaPipeBackend)
        assert isinstance(make_backend("auto", None), MediaPipeBackend)


def test_auto_picks_insightface_when_files_and_onnxruntime_exist(tmp_path, monkeypatch):
    make_buffalo(tmp_path / "models" / "buffalo_l")
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args):
        return object() if name == "onnxruntime" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    backend = make_backend("auto", str(tmp_path))    # sessions open lazily: nothing is loaded
    assert isinstance(backend, InsightFaceBackend)
    assert backend.det_path == tmp_path / "models" / "buffalo_l" / "det_10g.onnx"


def test_auto_falls_back_when_onnxruntime_is_missing(tmp_path, monkeypatch, caplog):
    make_buffalo(tmp_path / "models" / "buffalo_l")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    with caplog.at_level(logging.WARNING, logger="playmate"):
        assert isinstance(make_backend("auto", str(tmp_path)), MediaPipeBackend)
    assert "onnxruntime" in caplog.text


def test_unknown_backend_and_bad_cropper_arguments():
    with pytest.raises(ValueError, match="mediapipe, insightface, auto"):
        make_backend("dlib")
    with pytest.raises(ValueError, match="face_index"):
        FaceCropper(face_index=-1)
    with pytest.raises(ValueError, match="scale"):
        FaceCropper(scale=0)


def test_letterbox_keeps_aspect_top_left():
    img = np.full((100, 200, 3), 7, np.uint8)
    canvas, factor = ifb.letterbox(img, 512)
    assert factor == pytest.approx(256 / 100) and canvas.shape == (512, 512, 3)
    assert (canvas[:256] == 7).all() and (canvas[256:] == 0).all()


def test_anchor_centres_order():
    centres = ifb.anchor_centres(32, 16)            # 2x2 cells, 2 anchors each
    expected = [[0, 0], [0, 0], [16, 0], [16, 0], [0, 16], [0, 16], [16, 16], [16, 16]]
    np.testing.assert_array_equal(centres, expected)


def test_decode_scrfd_and_nms():
    size = 64
    counts = [(size // s) ** 2 * ifb.ANCHORS_PER_CELL for s in ifb.STRIDES]
    scores = [np.zeros((n, 1), np.float32) for n in counts]
    dists = [np.ones((n, 4), np.float32) for n in counts]
    kps = [np.zeros((n, 10), np.float32) for n in counts]
    # stride 8, cell (row 2, col 3), second anchor: centre (24, 16); distances 1,2,3,4 strides
    index = (2 * (size // 8) + 3) * 2 + 1
    scores[0][index] = 0.9
    dists[0][index] = (1, 2, 3, 4)
    scores[0][index - 1] = 0.8                      # same cell, slightly smaller box: suppressed
    dists[0][index - 1] = (1, 2, 3, 3.5)
    boxes, found = ifb.decode_scrfd(scores + dists + kps, size, threshold=0.5)
    assert found.tolist() == pytest.approx([0.8, 0.9])
    np.testing.assert_allclose(boxes[1], (24 - 8, 16 - 16, 24 + 24, 16 + 32))
    assert ifb.nms(boxes, found) == [1]
    far = np.vstack([boxes, [[100, 100, 120, 120]]])
    assert ifb.nms(far, np.array([0.8, 0.9, 0.7])) == [1, 2]


@pytest.mark.slow                       # runs a subprocess
def test_package_import_loads_no_optional_backend():
    """mediapipe / onnxruntime / insightface are imported only when a backend is used."""
    script = ("import sys, playmate_core.crop as c; c.make_backend('mediapipe'); "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('mediapipe', 'onnxruntime', 'insightface', 'comfy', 'folder_paths')))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
