"""benchmarks/gpu.sh, the prepared GPU benchmark: its plan, its refusal without CUDA, and its --smoke run.

The smoke run executes every measurement's code path on the CPU at tiny sizes (the same worker code the
GPU run uses), so an import or API change in the core breaks this test instead of the next GPU run.
Values are only checked to be finite and positive: timings are never asserted.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu.sh"
KINDS = {"face", "motion", "joyvasa", "train", "e2e"}

_spec = importlib.util.spec_from_file_location("gpu_plan", ROOT / "benchmarks" / "gpu_plan.py")
gpu_plan = importlib.util.module_from_spec(_spec)      # loaded by path: benchmarks/ never joins sys.path here
_spec.loader.exec_module(gpu_plan)
FACE_STEPS, plan = gpu_plan.FACE_STEPS, gpu_plan.plan


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OUT"}       # no stray copy into a caller's $OUT
    env["PYTHON"] = sys.executable
    return env


def test_full_plan_covers_every_measurement():
    jobs = plan(smoke=False)
    assert {j["kind"] for j in jobs} == KINDS
    face = {(k["dtype"], k["batch"], k["compile"], k["step"]) for j in jobs if j["kind"] == "face" for k in j["keys"]}
    assert face == {(d, b, c, s) for d in ("fp32", "fp16", "bf16") for b in (1, 8) for c in ("no", "inductor")
                    for s in FACE_STEPS}
    joy_steps = {k["steps"] for j in jobs if j["kind"] == "joyvasa" for k in j["keys"]}
    assert joy_steps == {50, 25}
    capped = sum(j["budget"] for j in jobs if j["budget"] is not None)
    assert capped <= 400, "at their caps the other jobs would leave the compile rows < 50 s of the 450 s budget"
    assert [j["group"] for j in plan(smoke=False, only={"compile"})] == ["compile"] * 3


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_refuses_without_cuda():
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no CUDA device" in proc.stderr and "--smoke" in proc.stderr


@pytest.mark.slow
def test_smoke_run(tmp_path):
    out = tmp_path / "gpu_bench.json"
    proc = subprocess.run(["bash", str(SCRIPT), "--smoke", "--json", str(out)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "torch " + torch.__version__ in proc.stdout                 # the preamble names the environment
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert data["meta"]["smoke"] is True and data["meta"]["device"] == "cpu"
    assert {r["kind"] for r in rows} == KINDS
    for r in rows:
        assert r["status"] == "ok", r
        assert isinstance(r["value"], float) and math.isfinite(r["value"]) and r["value"] > 0, r
        assert r["unit"]
    assert any(r["compile"] != "no" for r in rows if r["kind"] == "face")
    table = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| # | measurement |") and len(table) == len(rows) + 1
    for r, line in zip(rows, table[1:]):
        assert f"| {r['name']} |" in line and "| ok |" in line
