"""Face engine rows of benchmarks/gpu.py: milliseconds per frame of F, M, W+G (256 in, 512 out) and the
full per-frame render, for one precision, with or without torch.compile, at the batches in the job.

    job = {"kind": "face", "preset": "liveportrait", "dtype": "fp16", "compile": "inductor", "device": "cuda",
           "warmup": 3, "repeats": 10, "render_call_batches": 2, "keys": [{"step": "W+G", "batch": 8, ...}, ...]}

F and M take a batch of 256x256 crops as the pipeline gives them (CPU float from crop.to_tensor; the
copy to the device is in the time); W+G renders a batch of driving keypoints on one source volume
(FaceEngine.warp_decode, chunk = batch); render = pipeline.render_frames without paste-back
(transform, stitching, W+G, uint8 crop copied to the CPU) on the astronaut, `batch` frames through W
and G together, `render_call_batches` batches per timed call. Random weights (timing does not depend
on them). compile: "inductor" wraps F, M, W and G in torch.compile(dynamic=False) (the first call of
each batch size compiles, inside the warm-up; see CompiledNetwork); "aot-eager" traces with dynamo and
AOT autograd but runs the captured graph eagerly (the CPU smoke test of the compile path: no code
generation, no compiler needed).
"""
from __future__ import annotations

import types

import numpy as np
import torch

from gpu_common import Device, each_key, emit, median_seconds, portrait_source, swept_motion


class CompiledNetwork(torch.nn.Module):
    """torch.compile of one FaceEngine network, with inputs normalised so every call path hits one graph.

    * The network's forward is compiled without the @torch.inference_mode() that FastWarping /
      FastGenerator.forward carry: an inference_mode region inside the captured graph fails in AOT
      autograd ("Cannot set version_counter for inference tensor", torch 2.13, pytorch/pytorch#180823).
      Compiling the network's own forward code object also gives each network its own dynamo cache.
    * Calls run under no_grad outside inference mode on contiguous copies of the inputs: dynamo guards
      on strides and on inference-tensor-ness, which differ between the engine's call paths (crops from
      to_tensor, source tensors from prepare_source, keypoints from stitching) and would recompile.
      One copy of each input per call: negligible next to the network.
    """

    def __init__(self, module: torch.nn.Module, backend: str):
        super().__init__()
        forward = type(module).forward
        self.inner = module
        self.compiled = torch.compile(types.MethodType(getattr(forward, "__wrapped__", forward), module),
                                      backend=backend, dynamic=False)

    def forward(self, *args):
        with torch.inference_mode(False), torch.no_grad():
            return self.compiled(*(a.clone(memory_format=torch.contiguous_format) for a in args))


def build_engine(job: dict, dev: Device):
    from playmate_core import FaceEngine, build_face_modules
    from playmate_core.face.config import FACE_PRESETS
    cfg = FACE_PRESETS[job["preset"]]()
    torch.manual_seed(0)
    engine = FaceEngine(build_face_modules(cfg), cfg, device=dev.device, dtype=dev.dtype)
    if job["compile"] != "no":
        backend = {"inductor": "inductor", "aot-eager": "aot_eager"}[job["compile"]]
        for name in ("F", "M", "warp_net", "decoder"):
            setattr(engine, name, CompiledNetwork(getattr(engine, name), backend))
    return engine


class FaceInputs:
    """Inputs shaped like the pipeline's: 256x256 crops through crop.to_tensor (CPU float, as
    prepare_source and extract_driving pass them), driving keypoints and the source volume as inference
    tensors on the device (as render_frames has them), and the astronaut source for render rows."""

    def __init__(self, engine, dev: Device):
        from playmate_core.crop import to_tensor
        self.engine, self.dev, self.to_tensor = engine, dev, to_tensor
        self.crop = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
        g = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            img = to_tensor(self.crop)                                              # 1,3,256,256 CPU
            self.f_s = engine.extract_appearance(img)                               # 1,C,16,64,64
            self.x_s = engine.transform_keypoints(engine.extract_motion(img))       # 1,21,3
            self.noise = 0.02 * torch.randn(64, 21, 3, generator=g).to(dev.device)
        self._source = None

    @property
    def source(self):
        if self._source is None:
            self._source = portrait_source(self.engine)
        return self._source

    def call(self, name: str, batch: int, render_frames_per_call: int = 1):
        eng = self.engine
        if name in ("F", "M"):
            img = self.to_tensor([self.crop] * batch)                                # B,3,256,256 CPU
            return (lambda: eng.extract_appearance(img)) if name == "F" else (lambda: eng.extract_motion(img))
        if name == "W+G":
            with torch.inference_mode():
                x_d = self.x_s + self.noise[:batch]                                 # B,21,3
            return lambda: eng.warp_decode(self.f_s, self.x_s, x_d, chunk=batch)
        if name == "render":
            from playmate_core.pipeline import render_frames
            motion = swept_motion(self.source, render_frames_per_call)
            return lambda: sum(1 for _ in render_frames(eng, self.source, motion, paste_back=False, batch=batch))
        raise ValueError(f"unknown face step {name!r}")


def run(job: dict) -> None:
    dev = Device.of(job)
    dev.reset_peak()
    engine = build_engine(job, dev)
    inputs = FaceInputs(engine, dev)

    def measure(i: int, key: dict) -> None:
        render = key["step"] == "render"
        per_call = job["render_call_batches"] * key["batch"] if render else key["batch"]
        fn = inputs.call(key["step"], key["batch"], per_call)
        dev.reset_peak()
        repeats = max(1, job["repeats"] // (job["render_call_batches"] if render else 1))
        sec, first = median_seconds(fn, dev, job["warmup"], repeats)
        notes = f"{job['preset']}, median of {repeats} after {job['warmup']} warm-up"
        if job["compile"] != "no":
            notes += f", first call (compiles) {first:.1f} s"
        if render:
            notes += f", {per_call} frames per call, no paste-back"
        emit(job, i, value=1000 * sec / per_call, unit="ms/frame", peak_mb=dev.peak_mb(), notes=notes)

    each_key(job, measure)
