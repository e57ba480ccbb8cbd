"""Checkpoint provenance and the refusals that name the fix: stage-1 fingerprints, audio encoder, face
weights, VGG19; stage 0's exact resume."""
from __future__ import annotations

import argparse
import json

import pytest
import torch

from nets import perturb_
from playmate_core.loading import CheckpointError
from playmate_core.motion import build_motion_model, load_motion_backend, load_motion_model, save_motion_checkpoint
from playmate_core.motion.playmate.checkpoint import INFERENCE_DEFAULTS, audio_encoder_fingerprint, read_motion_checkpoint
from test_motion import TINY, write_dataset
from trainer import stage0_face, stage1_motion, stage2_emotion
from trainer.data import DatasetError, compute_stats, load_clips
from trainer_helpers import write_random_vgg19, write_tiny_encoder, write_tiny_liveportrait
from trainer_helpers import one_thread  # noqa: E402,F401  (autouse: one torch thread per test)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("prepared_prov"))


def trained_stage1(data, path, seed=0, provenance=None):
    torch.manual_seed(seed)
    model = build_motion_model("tiny", stats=compute_stats(load_clips(data)))
    perturb_(model.denoiser, seed)
    return save_motion_checkpoint(path, model, part="stage1", trained=True, training={}, provenance=provenance)


def stage2(data, stage1, out, steps=1):
    return stage2_emotion.main(["--data", str(data), "--out", str(out), "--stage1", str(stage1), "--set", *TINY,
                                f"steps={steps}", f"save_every={steps}"])


def test_emotion_module_on_another_stage1_is_refused(data, tmp_path):
    a = trained_stage1(data, tmp_path / "a.safetensors", seed=0)
    b = trained_stage1(data, tmp_path / "b.safetensors", seed=1)
    stage2(data, a, tmp_path / "s2")
    emotion = tmp_path / "s2" / "motion_emotion.safetensors"
    assert load_motion_model([a, emotion]).has_emotion                       # its own stage 1 loads
    with pytest.raises(CheckpointError) as err:
        load_motion_model([b, emotion])
    _, meta_a = read_motion_checkpoint(a)
    _, meta_b = read_motion_checkpoint(b)
    msg = str(err.value)
    assert meta_a["stage1_sha256"][:16] in msg and meta_b["stage1_sha256"][:16] in msg
    assert "train stage 2 again" in msg and "stage-1 checkpoint it was trained with" in msg
    full = load_motion_model(tmp_path / "s2" / "motion_full.safetensors")    # one file: consistent by design
    assert full.meta["stage1_sha256"] == meta_a["stage1_sha256"]
    prov = json.loads(read_motion_checkpoint(emotion)[1]["provenance"])
    assert prov["stage1_sha256"] == meta_a["stage1_sha256"] and len(prov["dataset_sha256"]) == 64


def test_old_files_without_fingerprints_still_load(data, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file
    a = trained_stage1(data, tmp_path / "a.safetensors")
    stage2(data, a, tmp_path / "s2")
    for name, src in (("old_s1.safetensors", a), ("old_emo.safetensors", tmp_path / "s2" / "motion_emotion.safetensors")):
        with safe_open(str(src), "pt") as f:
            meta = {k: v for k, v in f.metadata().items() if k not in ("stage1_sha256", "emotion_stage1_sha256",
                                                                         "provenance")}
            save_file({k: f.get_tensor(k) for k in f.keys()}, str(tmp_path / name), metadata=meta)
    model = load_motion_model([tmp_path / "old_s1.safetensors", tmp_path / "old_emo.safetensors"])
    assert model.meta["provenance"] == {} and model.meta["emotion_stage1_sha256"] == "unknown"
    assert model.meta["stage1_sha256"] == read_motion_checkpoint(a)[1]["stage1_sha256"]   # computed from tensors


def test_checkpoint_sampling_defaults_match_the_readme(data, tmp_path):
    path = trained_stage1(data, tmp_path / "a.safetensors")
    assert json.loads(read_motion_checkpoint(path)[1]["inference_defaults"])["eta"] == 1.0 == INFERENCE_DEFAULTS["eta"]


def test_encoder_mismatch_warns_through_the_front_door(data, tmp_path, caplog):
    from playmate_core.audio import build_random_encoder
    enc_a = write_tiny_encoder(tmp_path / "enc_a")
    build_random_encoder("tiny", seed=7).save_pretrained(str(tmp_path / "enc_b"))
    prov = {"audio_encoder": audio_encoder_fingerprint(enc_a)}
    path = trained_stage1(data, tmp_path / "a.safetensors", provenance=prov)
    assert load_motion_backend(path, audio_encoder=enc_a).warnings == ()
    import shutil
    shutil.copytree(enc_a, tmp_path / "copy_of_a")                           # a copy elsewhere: same files
    assert load_motion_backend(path, audio_encoder=tmp_path / "copy_of_a").warnings == ()
    backend = load_motion_backend(path, audio_encoder=tmp_path / "enc_b")
    (warning,) = backend.warnings
    assert "trained with audio encoder enc_a" in warning and "enc_b" in warning and "lip sync" in warning
    assert warning in caplog.text
    unknown = trained_stage1(data, tmp_path / "u.safetensors")                 # no provenance: nothing to compare
    assert load_motion_backend(unknown, audio_encoder=tmp_path / "enc_b").warnings == ()


def test_stage2_refuses_data_from_another_encoder(tmp_path):
    data = write_dataset(tmp_path / "d")
    rows = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()]
    for r in rows:
        r["audio_encoder"] = {"name": "other", "sha256": "b" * 64}
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s1 = trained_stage1(data, tmp_path / "s1.safetensors", provenance={"audio_encoder": {"name": "mine",
                                                                                          "sha256": "a" * 64}})
    with pytest.raises(DatasetError, match="prepared with audio encoder other"):
        stage2(data, s1, tmp_path / "s2")


def test_dataset_from_other_face_weights_is_refused(tmp_path):
    from trainer.provenance import face_weights_fingerprint
    lp = write_tiny_liveportrait(tmp_path / "lp")
    data = write_dataset(tmp_path / "d")
    rows = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()]
    for r in rows:
        r["face_motion_sha256"] = "c" * 64
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DatasetError, match="Re-prepare the data with these weights"):
        stage1_motion.main(["--data", str(data), "--out", str(tmp_path / "o"), "--face-weights", str(lp),
                            "--set", *TINY, "steps=1"])
    for r in rows:
        r["face_motion_sha256"] = face_weights_fingerprint(lp)
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o2"
    stage1_motion.main(["--data", str(data), "--out", str(out), "--face-weights", str(lp), "--set", *TINY, "steps=1"])
    prov = json.loads(read_motion_checkpoint(out / "motion_stage1.safetensors")[1]["provenance"])
    assert prov["face_motion_sha256"] == face_weights_fingerprint(lp)


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    import cv2
    import numpy as np
    from safetensors.torch import save_file
    from skimage import data as skd
    root = tmp_path_factory.mktemp("s0prov")
    face = cv2.resize(np.ascontiguousarray(skd.astronaut()[:300, 100:400]), (256, 256))
    (root / "crops").mkdir()
    save_file({"frames": torch.from_numpy(np.stack([np.roll(face, (i, -i), axis=(0, 1)) for i in range(6)]))},
              str(root / "crops/c.safetensors"))
    (root / "manifest.jsonl").write_text(json.dumps({"clip_id": "c", "frames": 6, "crops": "crops/c.safetensors"}) + "\n")
    return root


def stage0(crops, out, steps, *extra):
    return stage0_face.train(stage0_face.parser().parse_args(
        ["--data", str(crops), "--out", str(out), "--tiny", "--no-perceptual", "--steps", str(steps), "--batch", "1",
         "--lr", "1e-3", "--log-every", "1", "--transfer-every", "1000", "--device", "cpu", *extra]))


@pytest.mark.slow                       # tiny W+G renders, 4 steps
def test_stage0_resume_is_exact_and_refuses_changes(crops, tmp_path):
    full = stage0(crops, tmp_path / "full", 3)["history"]
    stage0(crops, tmp_path / "part", 1)
    resumed = stage0(crops, tmp_path / "part", 3)                            # steps may grow
    assert resumed["history"] == full and resumed["step"] == 3
    assert (tmp_path / "part" / "run.json").is_file()
    with pytest.raises(SystemExit, match="lr: 0.001 -> 0.01"):
        stage0(crops, tmp_path / "part", 4, "--lr", "1e-2")


def test_stage0_needs_vgg19_and_names_a_bad_file(crops, tmp_path):
    with pytest.raises(SystemExit, match="download.pytorch.org/models/vgg19-dcbb9e9d.pth"):
        stage0_face.main(["--data", str(crops), "--out", str(tmp_path / "o"), "--tiny"])
    bad = tmp_path / "vgg19-dcbb9e9d.pth"
    bad.write_bytes(b"not a torch file at all" * 100)
    with pytest.raises(ValueError) as err:
        stage0_face.main(["--data", str(crops), "--out", str(tmp_path / "o"), "--tiny", "--vgg19", str(bad)])
    assert "download.pytorch.org" in str(err.value) and "weights_only=False" not in str(err.value)
    pickled = tmp_path / "pickled.pth"
    torch.save({"features.0.weight": torch.zeros(1), "args": argparse.Namespace(a=1)}, pickled)   # not plain
    with pytest.raises(ValueError) as err:
        stage0_face.main(["--data", str(crops), "--out", str(tmp_path / "o"), "--tiny", "--vgg19", str(pickled)])
    assert "weights_only=False" not in str(err.value) and "vgg19" in str(err.value)
    write_random_vgg19(tmp_path / "ok.pth")                                   # a good file passes the check
