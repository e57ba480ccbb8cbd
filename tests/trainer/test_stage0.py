"""trainer.stage0_face: a few steps on synthetic crops with random tiny modules and a random VGG19."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from trainer import stage0_face
from trainer.vgg19 import VGG19, load_vgg19
from trainer_helpers import write_random_vgg19

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A prepared-data folder with one clip of 6 crops (astronaut, slightly shifted)."""
    from safetensors.torch import save_file
    from skimage import data as skd
    root = tmp_path_factory.mktemp("s0data")
    face = cv2.resize(np.ascontiguousarray(skd.astronaut()[:300, 100:400]), (256, 256))
    frames = np.stack([np.roll(face, (i, -i), axis=(0, 1)) for i in range(6)])          # (6,256,256,3)
    (root / "crops").mkdir()
    save_file({"frames": torch.from_numpy(frames)}, str(root / "crops/c.safetensors"))
    row = {"clip_id": "c", "frames": 6, "fps": 25, "duration": 0.24, "identity": "c", "emotion": None,
           "intensity": None, "motion": "motion/c.safetensors", "audio": "audio/c.safetensors",
           "crops": "crops/c.safetensors"}
    (root / "manifest.jsonl").write_text(json.dumps(row) + "\n")
    return root


@pytest.mark.slow                       # a full-size (random) VGG19 perceptual loss
def test_two_steps_write_loadable_weights(data, tmp_path):
    from playmate_core import FaceEngineConfig, build_face_modules, load_face_engine
    vgg = write_random_vgg19(tmp_path / "vgg19.pth")
    out = tmp_path / "face"
    stage0_face.main(["--data", str(data), "--out", str(out), "--tiny", "--vgg19", str(vgg), "--steps", "2",
                      "--batch", "1", "--lr", "1e-3", "--log-every", "1", "--transfer-every", "2"])
    engine = load_face_engine(out, config=FaceEngineConfig.tiny())
    history = json.loads((out / "stage0_log.json").read_text())["history"]
    assert len(history) == 2 and all(np.isfinite(h["total"]) and h["perc"] > 0 for h in history)
    assert history[0]["pose"] == 0 and history[1]["pose"] > 0 and history[1]["exp"] > 0    # transfer on step 2
    torch.manual_seed(0)
    init = build_face_modules(FaceEngineConfig.tiny())["spade_generator"].state_dict()
    reloaded = load_face_engine(out, config=FaceEngineConfig.tiny(), optimize=False).decoder.state_dict()
    assert any(not torch.equal(init[k], reloaded[k]) for k in init if init[k].is_floating_point())
    assert engine.source.endswith("(safetensors)")


def test_missing_vgg19_is_named(data, tmp_path):
    missing = tmp_path / "vgg19-dcbb9e9d.pth"
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth"):
        stage0_face.main(["--data", str(data), "--out", str(tmp_path / "o"), "--tiny", "--vgg19", str(missing)])


def test_data_without_crops_names_the_flag(tmp_path):
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"clip_id": "x", "frames": 100}) + "\n")
    with pytest.raises(FileNotFoundError, match="--save-crops"):
        stage0_face.main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--tiny", "--no-perceptual"])
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        stage0_face.main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--tiny", "--no-perceptual"])


def test_vgg19_torchvision_layout(tmp_path):
    state = VGG19().state_dict()
    state["classifier.0.weight"] = torch.zeros(2, 2)                 # ignored
    torch.save(state, tmp_path / "v.pth")
    assert len(load_vgg19(tmp_path / "v.pth")(torch.rand(1, 3, 32, 32))) == 5
    del state["features.28.weight"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="features.28.weight"):
        load_vgg19(tmp_path / "bad.pth")


@pytest.mark.slow                       # torchrun: two processes
def test_ddp_two_cpu_processes(tmp_path):
    """torchrun with 2 gloo processes: DDP over F, M, W, G, rank-0 logging and files, per-rank clips."""
    from safetensors.torch import save_file
    from skimage import data as skd
    from playmate_core import FaceEngineConfig, load_face_engine
    root = Path(__file__).resolve().parents[2]
    data = tmp_path / "data"
    (data / "crops").mkdir(parents=True)
    face = cv2.resize(np.ascontiguousarray(skd.astronaut()[:300, 100:400]), (256, 256))
    rows = []
    for c in ("a", "b"):                                          # two clips: one per rank
        frames = np.stack([np.roll(face, (i, 2 * i if c == "a" else -i), axis=(0, 1)) for i in range(4)])
        save_file({"frames": torch.from_numpy(frames)}, str(data / f"crops/{c}.safetensors"))
        rows.append(json.dumps({"clip_id": c, "frames": 4, "crops": f"crops/{c}.safetensors"}))
    (data / "manifest.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "face"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trainer.stage0_face", "--data", str(data), "--out", str(out), "--tiny", "--steps", "2",
           "--batch", "1", "--lr", "1e-3", "--log-every", "1", "--transfer-every", "2", "--device", "cpu",
           "--no-perceptual"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("step 2/2:") == 1                     # rank 0 logs, rank 1 does not
    assert "on rank 0/2" in proc.stderr and "on rank 1/2" not in proc.stderr
    log = json.loads((out / "stage0_log.json").read_text())
    assert log["world_size"] == 2 and len(log["history"]) == 2
    assert all(np.isfinite(h["total"]) for h in log["history"]) and log["history"][1]["pose"] > 0
    load_face_engine(out, config=FaceEngineConfig.tiny())
