"""Every measurement that needs a GPU, in one run of at most 8 minutes, printed as one table.

    bash benchmarks/gpu.sh                        # on a CUDA machine (the wrapper picks the Python)
    bash benchmarks/gpu.sh --smoke --json t.json  # CPU, tiny sizes, < 2 minutes: CI keeps it from rotting
    python benchmarks/gpu.py --only face,train    # groups: face, compile, motion, joyvasa, train, e2e

Rows (plan in benchmarks/gpu_plan.py): face engine ms/frame (F, M, W+G 256->512, full render) at
fp32/fp16/bf16, batch 1 and 8, eager and torch.compile; motion RTF (base, audio CFG, 25 steps); JoyVASA
RTF (released geometry, audio encoder included, 50 and 25 steps); stage-1 base training steps/s; end-to-
end seconds per frame at 512. All weights are random (timing does not depend on them); nothing is
downloaded. Each job runs in its own process under a timeout; a row that fails or runs out of time
prints as FAILED / TIMEOUT with the reason, and the next job runs. Peak GPU memory is
torch.cuda.max_memory_allocated, reset per row.

Output: the Markdown table on stdout; JSON ({"meta", "rows"}) to --json and to $OUT/gpu_bench.json
when $OUT is set (the table also to $OUT/gpu_bench.md). Exit status: 0 when every row is ok, 1 when
any row FAILED or TIMED OUT, 2 when CUDA is missing without --smoke.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKERS = {"face": ("gpu_face", "run"), "motion": ("gpu_motion", "run_motion"),
           "joyvasa": ("gpu_motion", "run_joyvasa"), "train": ("gpu_train", "run"), "e2e": ("gpu_e2e", "run")}
GROUPS = {"face", "compile", "motion", "joyvasa", "train", "e2e"}
MIN_JOB_SECONDS = 5.0
COLUMNS = ("#", "measurement", "device", "dtype", "batch", "compile", "value", "unit", "peak GPU MB", "status",
           "notes")


def worker_main(job_json: str) -> None:
    """In the job's own process: import the worker module and let it print its ROW lines."""
    sys.path[:0] = [str(ROOT), str(HERE)]
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    job = json.loads(job_json)
    module, func = WORKERS[job["kind"]]
    getattr(importlib.import_module(module), func)(job)


def _reason(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error:" in ln or "Exception" in ln]
    return (errors or lines or ["no output"])[-1][:240]


def run_job(job: dict, timeout: float) -> tuple[list, float]:
    """Run one job's worker under `timeout` -> (one row per key, seconds). Missing rows are filled in."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)          # own process group: a timeout kills its children too
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    rows = [json.loads(line[4:]) for line in out.splitlines() if line.startswith("ROW ")][:len(job["keys"])]
    for key in job["keys"][len(rows):]:
        if timed_out:
            status, why = "TIMEOUT", f"job exceeded its {timeout:.0f} s budget"
        else:
            status, why = "FAILED", f"worker exited with {proc.returncode}: {_reason(err)}"
        rows.append({**_public(key), "device": job["device_name"], "value": None, "unit": "", "peak_mem_mb": None,
                     "status": status, "notes": why})
    if timed_out or proc.returncode or any(r["status"] != "ok" for r in rows):
        tail = "\n".join(err.splitlines()[-15:])
        print(f"[gpu] --- stderr tail of {label(job)} ---\n{tail}\n[gpu] ---", file=sys.stderr)
    return [{**r, "job_s": round(seconds, 1)} for r in rows], seconds


def _public(key: dict) -> dict:
    return {k: key[k] for k in ("kind", "name", "dtype", "batch", "compile")}


def label(job: dict) -> str:
    key = job["keys"][0]
    return f"{job['kind']} {key['dtype']}" + ("" if key["compile"] == "no" else f" compile={key['compile']}")


def run_plan(jobs: list, budget: float, smoke: bool) -> list:
    deadline = time.perf_counter() + budget
    rows = []
    for n, job in enumerate(jobs):
        remaining = deadline - time.perf_counter()
        share = remaining / sum(1 for j in jobs[n:] if j["budget"] is None) if job["budget"] is None else None
        cap = 120.0 if smoke else (job["budget"] or share)
        timeout = min(cap, remaining)
        if timeout < MIN_JOB_SECONDS:
            rows += [{**_public(k), "device": job["device_name"], "value": None, "unit": "", "peak_mem_mb": None,
                      "status": "TIMEOUT", "notes": f"not started: the run's {budget:.0f} s budget was spent"}
                     for k in job["keys"]]
            continue
        got, seconds = run_job(job, timeout)
        ok = sum(r["status"] == "ok" for r in got)
        print(f"[gpu] {label(job)}: {ok}/{len(got)} rows ok in {seconds:.1f} s (cap {timeout:.0f} s)",
              file=sys.stderr, flush=True)
        rows += got
    return rows


def _cell(row: dict, col: str, i: int) -> str:
    if col == "#":
        return str(i)
    if col == "measurement":
        return row["name"]
    if col == "value":
        return "-" if row["value"] is None else f"{row['value']:.4g}"
    if col == "peak GPU MB":
        return "-" if row["peak_mem_mb"] is None else f"{row['peak_mem_mb']:.0f}"
    return str(row[col]).replace("|", "/")


def to_markdown(rows: list, meta: dict) -> str:
    head = (f"GPU benchmark ({'smoke, CPU, tiny sizes' if meta['smoke'] else meta['gpu']}): torch {meta['torch']}, "
            f"CUDA {meta['cuda']}, Python {meta['python']}, {meta['cpus']} CPUs, {meta['wall_s']:.0f} s")
    lines = [head, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(r, c, i + 1) for c in COLUMNS) + " |" for i, r in enumerate(rows)]
    return "\n".join(lines)


def environment(smoke: bool) -> dict:
    import torch
    cuda = torch.cuda.is_available()
    return {"smoke": smoke, "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
            "gpu": torch.cuda.get_device_name(0) if cuda else None, "cuda_available": cuda, "cpus": os.cpu_count(),
            "device": "cpu" if smoke or not cuda else "cuda"}


def write_outputs(rows: list, meta: dict, table: str, json_path: str | None) -> None:
    out = os.environ.get("OUT")
    paths = [Path(p) for p in (json_path, out and os.path.join(out, "gpu_bench.json")) if p]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    if out:
        Path(out, "gpu_bench.md").write_text(table + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="CPU, tiny presets, a few steps (CI)")
    p.add_argument("--json", help="also write the rows as JSON here")
    p.add_argument("--budget", type=float, help="seconds for all jobs (default 450 on the GPU, 540 with --smoke)")
    p.add_argument("--only", help="comma-separated groups: face, compile, motion, joyvasa, train, e2e")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return 0
    sys.path[:0] = [str(HERE)]
    from gpu_plan import plan
    t0 = time.perf_counter()
    meta = environment(args.smoke)
    if not args.smoke and not meta["cuda_available"]:
        print(f"benchmarks/gpu.py: no CUDA device (torch {meta['torch']}, built with CUDA {meta['cuda']}); these "
              f"measurements need a GPU. Use --smoke for the CPU check of the script.", file=sys.stderr)
        return 2
    only = set(args.only.split(",")) if args.only else None
    if only and only - GROUPS:
        p.error(f"--only: unknown group(s) {sorted(only - GROUPS)}; choose from {', '.join(sorted(GROUPS))}")
    jobs = plan(args.smoke, only)
    for job in jobs:
        job["device"] = job["device_name"] = meta["device"]
    budget = args.budget or (540.0 if args.smoke else 450.0)
    if args.smoke:               # tiny ops on shared CI cores: one thread avoids OpenMP oversubscription (2-5x)
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = run_plan(jobs, budget, args.smoke)
    meta.update(wall_s=round(time.perf_counter() - t0, 1), budget_s=budget)
    table = to_markdown(rows, meta)
    print(table, flush=True)
    write_outputs(rows, meta, table, args.json)
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        print(f"[gpu] {len(bad)} of {len(rows)} rows did not succeed", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
