"""`python -m playmate_core.eval` end to end on tiny real-face videos, with random weights in the public layouts.

Data: 2 generated + 2 reference clips of 16 frames at 25 fps, 128x128, cut from skimage's astronaut
portrait with a small per-frame shift and noise; the generated clips carry a speech track (espeak-ng
when installed, else an amplitude-modulated tone). Weights are random, so the numbers mean nothing:
the tests check the plumbing (every metric finite, reports written, warnings recorded, errors clear).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
FPS, FRAMES, SIZE, STEMS = 25, 16, 128, ("clip01", "clip02")      # 16 frames: one FVD clip
METRICS = ("FID", "FVD", "Sync-C", "Sync-D", "CSIM", "LPIPS")


def face_frames(seed: int, n: int = FRAMES) -> np.ndarray:
    """(n, SIZE, SIZE, 3) uint8: the astronaut's face, shifted by up to 3 px and noised per frame."""
    import cv2
    from skimage.data import astronaut

    img, rng, out = astronaut(), np.random.default_rng(seed), []
    for _ in range(n):
        dy, dx = rng.integers(-3, 4, size=2)
        crop = cv2.resize(img[20 + dy:260 + dy, 130 + dx:370 + dx], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        out.append(np.clip(crop + rng.normal(0, 3, crop.shape), 0, 255).astype(np.uint8))
    return np.stack(out)


def speech(tmp: Path, seconds: float) -> np.ndarray:
    """(S,) float 16 kHz: espeak-ng speech if available, else a 4 Hz amplitude-modulated 180 Hz tone."""
    n = int(seconds * 16000)
    if shutil.which("espeak-ng"):
        from playmate_core.eval.media import read_audio
        wav = tmp / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "200", "-w", str(wav), "Hello there, how are you?"], check=True)
        x = read_audio(wav)[:n]
        return np.pad(x, (0, n - len(x)))
    t = np.arange(n) / 16000
    return 0.4 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))


def write_mp4(path: Path, frames: np.ndarray, audio: np.ndarray | None = None) -> None:
    """H.264 yuv420p video at FPS with an optional AAC 16 kHz mono track (PyAV)."""
    from fractions import Fraction

    import av
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = SIZE, SIZE, "yuv420p"
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio is not None else None
        for f in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(video.encode())
        if sound is not None:
            chunk = av.AudioFrame.from_ndarray(audio.astype(np.float32)[None], format="fltp", layout="mono")
            chunk.sample_rate, chunk.time_base, chunk.pts = 16000, Fraction(1, 16000), 0
            out.mux(sound.encode(chunk))
            out.mux(sound.encode())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("eval_data")
    gen, ref, motion = root / "generated", root / "reference", root / "motion"
    for d in (gen, ref, motion):
        d.mkdir()
    wave = speech(root, FRAMES / FPS + 0.04)
    for i, stem in enumerate(STEMS):
        write_mp4(gen / f"{stem}.mp4", face_frames(seed=2 * i), wave)
        write_mp4(ref / f"{stem}.mp4", face_frames(seed=2 * i + 1))
        write_motion(motion / f"{stem}.motion.safetensors", seed=i)
    return {"root": root, "generated": gen, "reference": ref, "motion": motion}


def write_motion(path: Path, seed: int) -> None:
    """A FRAMES-long motion file as the Save Motion node writes it (lip keypoints oscillating)."""
    from playmate_core.motion.sequence import MotionSequence
    from playmate_core.pipeline.motion_file import save_motion_file
    g = torch.Generator().manual_seed(seed)
    values = 0.01 * torch.randn(FRAMES, 70, generator=g)
    values[:, :63] += 0.02 * torch.sin(torch.arange(FRAMES) / 2.0)[:, None]
    values[:, 69] = 1.0
    save_motion_file(path, MotionSequence(values=values, kp=torch.zeros(1, 21, 3), fps=float(FPS), trained=False))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict:
    """Random networks saved as the public files are laid out (plain state dicts, public key names)."""
    from playmate_core.eval import arcface, i3d, inception, lpips, syncnet
    root = tmp_path_factory.mktemp("eval_weights")
    torch.manual_seed(0)
    files = {
        "--inception": (root / "pt_inception-2015-12-05-6726825d.pth", no_counters(inception.InceptionV3FID())),
        "--i3d": (root / "i3d_pretrained_400.pt", no_counters(i3d.InceptionI3D())),
        "--syncnet": (root / "syncnet_v2.model", syncnet.SyncNet().state_dict()),
        "--arcface": (root / "backbone.pth", arcface.IResNet(arcface.IRESNET_PRESETS["r18"]).state_dict()),
        "--lpips-alexnet": (root / "alexnet-owt-7be5be79.pth", lpips.AlexNetFeatures().state_dict()),
        "--lpips-linear": (root / "alex.pth", {k: v.abs() for k, v in       # the public heads are >= 0
                                               lpips.LinearHeads(lpips.LPIPSConfig().channels).state_dict().items()}),
    }
    for path, state in files.values():
        torch.save(state, path)
    return {flag: path for flag, (path, _) in files.items()}


def no_counters(module: torch.nn.Module) -> dict:
    """state_dict() without BatchNorm num_batches_tracked: the public Inception and I3D files have none."""
    return {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playmate_core.eval", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def main(*args) -> int:
    """The CLI in-process (same code path as the subprocess, without a second torch import)."""
    from playmate_core.eval.__main__ import main as cli_main
    return cli_main([str(a) for a in args])


def base_args(data: dict, out: Path) -> list:
    return ["--generated", data["generated"], "--reference", data["reference"], "--out", out, "--dataset", "HDTF"]


@pytest.mark.slow
def test_full_run_every_metric_finite(dataset, weights, tmp_path):
    weight_args = [x for flag, path in weights.items() for x in (flag, path)]
    proc = run_cli(*base_args(dataset, tmp_path / "out"), *weight_args, "--motion", dataset["motion"],
                   "--fid-frames-per-video", "2", "--compare-paper")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    ours = data["tables"][0]["rows"][0]["values"]
    for metric in METRICS:
        assert isinstance(ours[metric], float) and np.isfinite(ours[metric]), (metric, ours)
    assert -1.0 <= ours["CSIM"] <= 1.0 and ours["LPIPS"] >= 0 and ours["Sync-D"] >= 0
    assert np.isfinite(ours["lip_r"]) and np.isfinite(ours["jerk_exp"])
    result = data["results"][0]
    assert result["videos"] == 2 and result["frames"] == 2 * FRAMES and result["not_computed"] == {}
    assert set(result["per_video"]) == set(STEMS)
    # 4 FID samples and 2 FVD clips are far fewer than the feature dimensions: the report says so
    assert any("FID" in w for w in result["warnings"]) and any("FVD" in w for w in result["warnings"])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| Method | FID↓ | FVD↓ | Sync-C↑ | Sync-D↓ | CSIM↑ | LPIPS↓ |" in md.replace(
        " Lip r↑ | Lip lag→0 | Silence open↓ | Jerk exp↓ | Seam→1 | ΔP |", "")
    assert "| this run |" in md and "warning:" in md and "published rows:" in md
    assert md in proc.stdout


def test_without_weights_metrics_are_marked_not_computed(dataset, tmp_path, capsys):
    assert main(*base_args(dataset, tmp_path / "out"), "--motion", dataset["motion"]) == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    table = data["tables"][0]
    assert all(table["rows"][0]["values"][m] is None for m in METRICS)
    assert table["not_computed"]["FID"].startswith("not computed (give --inception PATH")
    assert "--lpips-alexnet" in table["not_computed"]["LPIPS"] and "--syncnet" in table["not_computed"]["Sync-C"]
    assert np.isfinite(table["rows"][0]["values"]["lip_r"])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| this run | – | – | – | – | – | – |" in md


@pytest.mark.slow                       # runs a subprocess
def test_missing_weights_file_names_path_and_flag(dataset, tmp_path):
    missing = tmp_path / "nowhere" / "pt_inception.pth"
    proc = run_cli(*base_args(dataset, tmp_path / "out"), "--inception", missing, timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(missing) in lines[0] and "--inception" in lines[0]
    assert "pt_inception-2015-12-05-6726825d.pth" in lines[0]
    assert not (tmp_path / "out").exists()


def test_bad_input_is_a_one_line_error(dataset, tmp_path, capsys):
    broken = tmp_path / "gen"
    broken.mkdir()
    (broken / "clip01.mp4").write_bytes(b"not a video" * 20)
    assert main("--generated", broken, "--reference", dataset["reference"], "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and err.endswith(errors[0] + "\n")
    assert "clip01.mp4" in errors[0] and "Re-encode" in errors[0]


def test_mismatched_lengths_need_trim(dataset, tmp_path, capsys):
    short = tmp_path / "short"
    short.mkdir()
    for stem in STEMS:
        write_mp4(short / f"{stem}.mp4", face_frames(seed=9, n=FRAMES - 4))
    args = ["--generated", short, "--reference", dataset["reference"], "--out", tmp_path / "out"]
    assert main(*args) == 2
    err = capsys.readouterr().err
    assert "--trim" in err and f"{FRAMES - 4} frames" in err and not (tmp_path / "out").exists()
    assert main(*args, "--trim") == 0, capsys.readouterr().err
    notes = json.loads((tmp_path / "out" / "report.json").read_text())["tables"][0]["notes"]
    assert any(f"trimmed to {FRAMES - 4}" in n for n in notes)


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main("--help")
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--generated", "--reference", "--audio", "--source-images", "--dataset", "--motion", "--inception",
                 "--i3d", "--syncnet", "--arcface", "--lpips-alexnet", "--lpips-linear", "--device", "--out",
                 "--compare-paper", "--paper-rows", "--trim", "--fid-frames-per-video"):
        assert flag in text


def test_motion_report_finds_a_known_lip_lag():
    """Mouth opening = the audio envelope, delayed 2 frames: lip_lag 2, strong best r, closed in silence."""
    from playmate_core.eval import motion_metrics as mm
    from playmate_core.eval.motion_report import MotionClip, motion_report
    n, rng = 100, np.random.default_rng(0)
    t = np.arange(n * 640) / 16000
    envelope = (np.sin(2 * np.pi * 1.3 * t) > 0.2) * (0.6 + 0.4 * np.sin(2 * np.pi * 3.1 * t))
    wave = envelope * np.sin(2 * np.pi * 200 * t)
    energy = mm.audio_energy_db(wave, n)
    opening = np.roll(np.clip(energy - energy.min(), 0, None), 2)                   # mouth 2 frames late
    clips = []
    for stem in ("a", "b"):
        values = 0.001 * rng.standard_normal((n, 70))
        exp = values[:, :63].reshape(n, 21, 3)
        exp[:, list(mm.LIP_KEYPOINTS), 1] += 0.002 * opening[:, None]
        clips.append(MotionClip(stem, values, 25.0, wave))
    report = motion_report(clips)
    assert report["mean"]["lip_lag"] == 2.0 and report["mean"]["lip_best_r"] > 0.9
    assert report["mean"]["silence_ratio"] < 0.4         # open only in the 2 frames after speech
    assert set(report["per_clip"]) == {"a", "b"} and report["notes"] == []


def test_inputs_found_by_stem(dataset, tmp_path):
    """--audio and --source-images are matched by stem; a missing match is an error naming the flag."""
    import cv2
    from scipy.io import wavfile

    from playmate_core.eval import media
    from playmate_core.eval.run import EvalConfig, audio_for, source_for
    audio, sources = tmp_path / "audio", tmp_path / "sources"
    audio.mkdir(), sources.mkdir()
    wavfile.write(audio / "clip01.wav", 16000, (0.1 * np.ones(3200) * 32767).astype(np.int16))
    portrait = face_frames(seed=5, n=1)[0]
    cv2.imwrite(str(sources / "clip01.png"), portrait[..., ::-1])
    cfg = EvalConfig(dataset["generated"], dataset["reference"], audio=audio, source_images=sources)
    assert len(audio_for(cfg, "clip01", None)) == 3200
    with pytest.raises(media.MediaError, match="--audio.*clip02"):
        audio_for(cfg, "clip02", dataset["generated"] / "clip02.mp4")
    plain = EvalConfig(dataset["generated"], dataset["reference"])
    assert len(audio_for(plain, "clip02", dataset["generated"] / "clip02.mp4")) > 0.5 * 16000 * FRAMES / FPS
    with pytest.raises(media.MediaError, match="--audio"):
        audio_for(plain, "clip02", tmp_path / "frames_folder")
    ref = media.read_clip(dataset["reference"] / "clip01.mp4")
    np.testing.assert_array_equal(source_for(cfg, "clip01", ref), portrait)
    np.testing.assert_array_equal(source_for(plain, "clip01", ref), ref.frames[0])
    with pytest.raises(media.MediaError, match="--source-images.*clip02"):
        source_for(cfg, "clip02", ref)


def test_config_checks(dataset, tmp_path):
    from playmate_core.eval.run import EvalConfig, check_config, not_computed
    alex = tmp_path / "alexnet-owt-7be5be79.pth"
    alex.write_bytes(b"x")
    with pytest.raises(ValueError, match="--lpips-linear"):
        check_config(EvalConfig(dataset["generated"], dataset["reference"], weights={"lpips_alexnet": alex}))
    with pytest.raises(ValueError, match="--fid-frames-per-video"):
        check_config(EvalConfig(dataset["generated"], dataset["reference"], fid_frames_per_video=0))
    with pytest.raises(FileNotFoundError, match="--motion"):
        check_config(EvalConfig(dataset["generated"], dataset["reference"], motion=tmp_path / "none"))
    reasons = not_computed({"lpips_alexnet": alex})
    assert "--lpips-linear" in reasons["LPIPS"] and "--lpips-alexnet" not in reasons["LPIPS"]
    assert set(reasons) == {"FID", "FVD", "Sync-C", "Sync-D", "CSIM", "LPIPS"}
