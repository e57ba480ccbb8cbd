"""How long FFmpeg's AAC encoder (through PyAV, as Playmate's mp4 writer uses it) takes on hostile audio.

Each signal is encoded in a child process with a time limit, so a stall is measured, not suffered:
    python benchmarks/aac_worst_case.py [--seconds 10] [--limit 60] [--json out.json]
Signals within float full scale (what write_video passes on, after scaling louder audio down) and the
raw loud signal that stalls the encoder (what happened before the scaling). Reported: seconds of
encoding per second of audio, or 'stalled' when the child passed the limit.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from fractions import Fraction

import numpy as np

RATE = 48_000


def signal(name: str, seconds: float) -> np.ndarray:
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(0)
    table = {
        "speech-like (0.3 peak)": 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)),
        "white noise at full scale": rng.uniform(-1, 1, n),
        "square wave at full scale": np.sign(np.sin(2 * np.pi * 440 * t)),
        "alternating +-1 (Nyquist)": np.where(np.arange(n) % 2 == 0, 1.0, -1.0),
        "silence": np.zeros(n),
        "loud float noise +-1e8, unscaled (before the fix)": 1e8 * rng.uniform(-1, 1, n),
    }
    return table[name].astype(np.float32)[None]


def _encode(name: str, seconds: float, queue) -> None:
    import av
    audio = signal(name, seconds)
    t0 = time.perf_counter()
    with av.open("/dev/null", mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=RATE, layout="mono")
        step = RATE                                        # one second per frame, as the writer feeds it
        for start in range(0, audio.shape[1], step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, start:start + step]), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    queue.put(time.perf_counter() - t0)


def measure(name: str, seconds: float, limit: float) -> float | None:
    queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=_encode, args=(name, seconds, queue))
    child.start()
    child.join(limit)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return queue.get() if not queue.empty() else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    names = ["speech-like (0.3 peak)", "white noise at full scale", "square wave at full scale",
             "alternating +-1 (Nyquist)", "silence", "loud float noise +-1e8, unscaled (before the fix)"]
    rows = {}
    for name in names:
        took = measure(name, args.seconds, args.limit)
        rows[name] = None if took is None else took / args.seconds
        shown = f"stalled (> {args.limit:g} s for {args.seconds:g} s of audio)" if took is None else \
            f"{took / args.seconds * 1000:.1f} ms per second of audio"
        print(f"| {name} | {shown} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": args.seconds, "limit": args.limit, "per_audio_second": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
