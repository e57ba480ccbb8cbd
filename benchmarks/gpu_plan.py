"""The measurement plan of benchmarks/gpu.py: which jobs run, in which order, with which time budget.

    jobs = plan(smoke=False, only={"face"})     # list of job dicts; each job = one worker process
    for job in jobs: job["keys"]                # the table rows the job will emit, in order

A job is measured in its own process (a crash or timeout loses only its rows). Full plan (CUDA), in
order, with the longest each may take (seconds; the GPU run has 8 minutes in all):
  face    fp32 / fp16 / bf16, eager: F, M, W+G, render at batch 1 and 8            3 x 30
  motion  base, audio CFG w_a 1.5, 25 steps, 20 s of motion: fp32, bf16             2 x 30
  joyvasa released geometry, 20 s of raw audio, 50 and 25 steps: fp32, bf16         2 x 40
  train   stage 1, trainer/configs/base.yaml (batch 8, bf16 autocast), 10 + 40 steps    70
  e2e     8 s of audio -> 200 frames at 512: fp32, and auto (fp16 face, bf16 motion)  2 x 50
  face    torch.compile (inductor): fp16, bf16, fp32 last, each with an equal share of what is left
          (compilation is slow; rows it does not reach print as TIMEOUT)
The budgets are caps (typical runs need a fraction) and a global deadline (gpu.py --budget) cuts any
job that would run past it. `only` picks groups: face, compile, motion, joyvasa, train, e2e.
Smoke plan (CPU, tiny presets, a few steps, fp32): one job per kind plus the compile path traced with
dynamo + AOT autograd (backend aot_eager: no code generation, no C++ compiler) on W+G at batch 1; W+G
and render at batch 1 only (the tiny W still costs ~45 GFLOP a frame), F and M also at batch 2; e2e
renders 2 frames (1 s of audio at 2 fps), no warm-up.
"""
from __future__ import annotations

FACE_STEPS = ("F", "M", "W+G", "render")


def _key(kind: str, name: str, dtype: str, batch: int = 1, compile_: str = "no") -> dict:
    return {"kind": kind, "name": name, "dtype": dtype, "batch": batch, "compile": compile_}


def face_job(dtype: str, compile_: str, cases: list, smoke: bool, budget: float | None) -> dict:
    """cases: (step, batch) pairs in the order they are measured."""
    return {"kind": "face", "dtype": dtype, "compile": compile_, "preset": "tiny" if smoke else "liveportrait",
            "warmup": 0 if smoke else 3, "repeats": 1 if smoke else 10, "render_call_batches": 1 if smoke else 2,
            "budget": budget,
            "keys": [{**_key("face", f"face {s}", dtype, b, compile_), "step": s} for s, b in cases]}


def motion_job(dtype: str, smoke: bool) -> dict:
    preset, steps, seconds = ("tiny", 2, 4.0) if smoke else ("base", 25, 20.0)
    name = f"motion {preset}, CFG w_a 1.5, {steps} steps"
    return {"kind": "motion", "dtype": dtype, "preset": preset, "steps": steps, "seconds": seconds, "w_a": 1.5,
            "budget": 30.0, "keys": [_key("motion", name, dtype)]}


def joyvasa_job(dtype: str, smoke: bool) -> dict:
    preset, seconds, steps = ("tiny", 2.0, (None, 2)) if smoke else ("released", 20.0, (50, 25))
    keys = [{**_key("joyvasa", f"joyvasa {preset}, {s or 'all'} steps, incl. encoder", dtype), "steps": s}
            for s in steps]
    return {"kind": "joyvasa", "dtype": dtype, "preset": preset, "seconds": seconds, "budget": 40.0, "keys": keys}


def train_job(smoke: bool) -> dict:
    if smoke:
        job = {"config": "trainer/configs/tiny.yaml", "warmup_steps": 2, "steps": 3, "files": 3, "frames": 100,
               "batch": 2, "workers": 0, "dtype": "fp32"}
    else:
        job = {"config": "trainer/configs/base.yaml", "warmup_steps": 10, "steps": 40, "files": 8, "frames": 250,
               "batch": 8, "workers": 4, "dtype": "bf16"}
    preset = "tiny" if smoke else "base"
    return {"kind": "train", "budget": 70.0, **job,
            "keys": [_key("train", f"train stage 1 {preset}", "bf16 autocast" if not smoke else "fp32", job["batch"])]}


def e2e_job(face_dtype: str, motion_dtype: str, smoke: bool) -> dict:
    sizes = (dict(face_preset="tiny", motion_preset="tiny", encoder="tiny", seconds=1.0, fps=2.0, steps=2,
                  warmup=False) if smoke else
             dict(face_preset="liveportrait", motion_preset="base", encoder="base", seconds=8.0, fps=25.0, steps=25,
                  warmup=True))
    dtype = face_dtype if face_dtype == motion_dtype else f"{face_dtype}/{motion_dtype}"
    return {"kind": "e2e", "face_dtype": face_dtype, "motion_dtype": motion_dtype, "budget": 50.0, **sizes,
            "keys": [_key("e2e", "e2e audio -> frames at 512, paste-back", dtype)]}


def plan(smoke: bool, only: set | None = None) -> list:
    if smoke:
        cases = [(s, 1) for s in FACE_STEPS] + [("F", 2), ("M", 2)]
        jobs = [face_job("fp32", "no", cases, True, None), motion_job("fp32", True), joyvasa_job("fp32", True),
                train_job(True), e2e_job("fp32", "fp32", True),
                face_job("fp32", "aot-eager", [("W+G", 1)], True, None)]
    else:
        cases = [(s, b) for b in (1, 8) for s in FACE_STEPS]
        jobs = [face_job(d, "no", cases, False, 30.0) for d in ("fp32", "fp16", "bf16")]
        jobs += [motion_job(d, False) for d in ("fp32", "bf16")]
        jobs += [joyvasa_job(d, False) for d in ("fp32", "bf16")]
        jobs += [train_job(False), e2e_job("fp32", "fp32", False), e2e_job("fp16", "bf16", False)]
        # compile last: W+G and render first (they dominate), then F and M; budget = fair share of what is left
        cases = [(s, b) for b in (1, 8) for s in ("W+G", "render")] + [(s, b) for b in (1, 8) for s in ("F", "M")]
        jobs += [face_job(d, "inductor", cases, False, None) for d in ("fp16", "bf16", "fp32")]
    for j in jobs:
        j["group"] = "compile" if j.get("compile", "no") != "no" else j["kind"]
    return [j for j in jobs if not only or j["group"] in only]
