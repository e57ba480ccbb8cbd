"""playmate_core must import and work with no ComfyUI module importable (nodes -> core <- trainer)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked: {{name}}")
            return None

    sys.meta_path.insert(0, Block())
""")


def blocked_script(blocked: tuple, body: str) -> str:
    """A python -c script that makes every module under `blocked` unimportable, then runs `body`."""
    return BLOCKER.format(blocked=blocked) + textwrap.dedent(body)


SCRIPT = blocked_script(("comfy", "comfy_api", "comfy_extras", "folder_paths", "server", "nodes", "trainer"), """
    import torch
    import playmate_core
    from playmate_core import FaceEngine, FaceEngineConfig, build_face_modules
    import playmate_core.face.keypoints, playmate_core.crop
    torch.manual_seed(0)
    eng = FaceEngine(build_face_modules(FaceEngineConfig.tiny()), FaceEngineConfig.tiny())
    img = torch.rand(1, 3, 256, 256)
    f_s = eng.extract_appearance(img)
    x_s = eng.transform_keypoints(eng.extract_motion(img))
    out = eng.warp_decode(f_s, x_s, eng.stitch(x_s, x_s))
    assert out.shape == (1, 3, 512, 512), out.shape
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("OK")
""")


@pytest.mark.slow                       # runs a subprocess
def test_core_runs_without_comfyui():
    res = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().endswith("OK")


def test_no_comfy_imports_in_core_sources():
    bad = []
    for path in (ROOT / "playmate_core").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and \
                    words[1].split(".")[0] in ("comfy", "comfy_api", "folder_paths", "server", "nodes", "trainer"):
                bad.append(f"{path}: {line}")
    assert not bad, bad


@pytest.mark.slow                       # runs a subprocess
def test_eval_package_imports_without_torchvision_or_metric_packages():
    """The metric networks are our own definitions: importing every eval module (and running the CLI's
    --help) must not pull in torchvision, lpips, pytorch_fid or insightface."""
    script = blocked_script(("torchvision", "lpips", "pytorch_fid", "insightface", "comfy", "folder_paths",
                             "trainer"), """
        import importlib, pkgutil
        import playmate_core.eval as ev
        names = [m.name for m in pkgutil.iter_modules(ev.__path__) if m.name != "__main__"]
        for name in names:
            importlib.import_module(f"playmate_core.eval.{name}")
        print("OK", len(names))
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().startswith("OK") and int(res.stdout.split()[-1]) >= 12
