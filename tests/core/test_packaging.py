"""`pip install .` gives researchers the ComfyUI-free core: a wheel with playmate_core only, importable
outside the repository, with no torch or ComfyUI requirement."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_wheel_holds_the_core_and_imports_outside_the_repo(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "playmate_core", src / "playmate_core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "nodes", src / "nodes", ignore=shutil.ignore_patterns("__pycache__"))   # must stay out
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), "-q"], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        requires = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert {n.split("/")[0] for n in names} == {"playmate_core", wheel.name.split("-")[0] + "-0.1.0.dist-info"}
    assert "playmate_core/eval/paper_table1.json" in names
    deps = [ln.split(":", 1)[1].strip().lower() for ln in requires.splitlines() if ln.startswith("Requires-Dist:")]
    assert deps and not [d for d in deps if d.startswith(("torch", "comfy")) and "extra ==" not in d], deps
    site = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel), "-q"],
                          capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr[-3000:]
    probe = ("import sys, playmate_core, playmate_core.motion.backend, playmate_core.pipeline, playmate_core.eval; "
             "print(playmate_core.__file__); assert not [m for m in sys.modules if m.split('.')[0] in "
             "('comfy', 'folder_paths', 'nodes', 'trainer')]")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().startswith(str(site)), run.stdout


def test_pyproject_declares_the_supported_comfyui_range():
    import tomllib
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["tool"]["comfy"]["requires-comfyui"] == ">=0.3.75"
    assert "torch" not in " ".join(meta["project"]["dependencies"])
