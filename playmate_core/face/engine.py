"""FaceEngine: LivePortrait's implicit-keypoint face engine as one object (F, M, W, G, S).

    I_s (B,3,256,256) in [0,1] --F--> f_s (B,32,16,64,64)
    I   (B,3,256,256)          --M--> motion dict (kp, exp, pitch, yaw, roll, t, scale)
    motion --Eq.2--> x (B,21,3);  stitch(x_s, x_d) -> x_d';  retarget_eye/lip -> deltas
    G(W(f_s, x_s, x_d)) -> (B,3,512,512) in (0,1)

All public methods run under `torch.inference_mode`; inputs may be on any device and are moved.
Stitching and retargeting always run in fp32 (they are tiny and precision-sensitive).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from . import keypoints as kpm
from .config import FaceEngineConfig
from .weights import (BASE_SLOTS, STITCHING_SLOT, config_folder, locate, misplaced_hint,
                                   read_face_config, stitching_state)
from ..loading import load_strict, read_state_dict
from .modules import (AppearanceFeatureExtractor, MotionExtractor, SPADEGenerator, StitchingRetargeting,
                      WarpingNetwork)
from .modules.fast_generator import FastGenerator
from .modules.fast_warping import FastWarping
from .modules.stitching import StitchingInference

log = logging.getLogger("playmate")

NET_SIZE = 256   # network input side


def build_face_modules(cfg: FaceEngineConfig) -> dict:
    """Fresh (randomly initialised) modules keyed by checkpoint slot."""
    return {
        "appearance_feature_extractor": AppearanceFeatureExtractor(cfg.appearance),
        "motion_extractor": MotionExtractor(cfg.motion),
        "warping_module": WarpingNetwork(cfg.warping),
        "spade_generator": SPADEGenerator(cfg.generator),
        STITCHING_SLOT: StitchingRetargeting(cfg.stitching),
    }


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """'auto' -> cuda, else mps, else cpu."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    return torch.device(device)


def check_dtype(device: torch.device, dtype: torch.dtype) -> None:
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"precision {dtype} is not supported; use float32, float16 or bfloat16")
    if dtype != torch.float32 and device.type == "cpu":
        raise ValueError(f"{str(dtype).removeprefix('torch.')} is not supported on the CPU (its 3D pooling and "
                         f"convolution kernels are fp32 only); choose fp32 on CPU, or fp16/bf16 on a CUDA device")
    if dtype == torch.bfloat16 and device.type == "mps":
        raise ValueError("bf16 is not supported on MPS; choose fp16 or fp32")


class FaceEngine:
    def __init__(self, modules: Mapping[str, nn.Module], cfg: FaceEngineConfig,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, source: str = "",
                 optimize: bool = True):
        self.cfg = cfg
        self.device = resolve_device(device)
        check_dtype(self.device, dtype)
        self.dtype = dtype
        self.source = source
        self.F = modules["appearance_feature_extractor"].to(self.device, dtype).eval()
        self.M = modules["motion_extractor"].to(self.device, dtype).eval()
        self.M.detector.exact = not optimize
        self.S = modules[STITCHING_SLOT].to(self.device, torch.float32).eval()
        self.num_kp = cfg.motion.num_kp
        self._stitching = StitchingInference(self.S.retarget_shoulder, self.num_kp)
        # optimize=True: W and G run through their inference forms (folded BatchNorm/spectral norm,
        # polyphase convolutions; see modules/fast_*.py) and M through its channels-last 1x1-conv
        # path. optimize=False: the reference's op order, bit-identical to LivePortrait. The engine
        # keeps only the form it runs, so the weights are held once.
        w_net = modules["warping_module"].to(self.device, dtype).eval()
        g_net = modules["spade_generator"].to(self.device, dtype).eval()
        self.warp_net = FastWarping(w_net) if optimize else w_net
        self.decoder = FastGenerator(g_net) if optimize else g_net

    # ---- inputs -------------------------------------------------------------------------------
    def _image(self, img: torch.Tensor, name: str) -> torch.Tensor:
        if not isinstance(img, torch.Tensor) or img.ndim != 4 or img.shape[1] != 3:
            shape = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
            raise ValueError(f"{name}: expected a float tensor Bx3x{NET_SIZE}x{NET_SIZE} in [0,1], got {shape}")
        if tuple(img.shape[2:]) != (NET_SIZE, NET_SIZE):
            raise ValueError(f"{name}: expected {NET_SIZE}x{NET_SIZE} input, got {tuple(img.shape[2:])}; "
                             f"crop the face first (playmate_core.crop.FaceCropper gives the 256 input)")
        return img.to(self.device, self.dtype)

    def _kp(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, torch.float32).reshape(x.shape[0], self.num_kp, 3)

    # ---- F and M --------------------------------------------------------------------------------
    @torch.inference_mode()
    def extract_appearance(self, img: torch.Tensor) -> torch.Tensor:
        """(B,3,256,256) in [0,1] -> f_s (B,32,16,64,64), float32."""
        return self.F(self._image(img, "extract_appearance")).float()

    @torch.inference_mode()
    def extract_motion(self, img: torch.Tensor) -> dict:
        """(B,3,256,256) in [0,1] -> dict(kp, exp (B,21,3); pitch, yaw, roll (B,1) degrees; t (B,3); scale (B,1))."""
        raw = self.M(self._image(img, "extract_motion"))
        return kpm.motion_to_degrees({k: v.float() for k, v in raw.items()})

    # ---- keypoints and stitching --------------------------------------------------------------
    @staticmethod
    def transform_keypoints(motion: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Eq. 2, x = s(x_c R + delta) + t (tx, ty only): motion dict -> (B,21,3)."""
        return kpm.transform_keypoints(motion["kp"], motion["pitch"], motion["yaw"], motion["roll"],
                                       motion["exp"], motion["scale"], motion["t"])

    @torch.inference_mode()
    def stitch(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """x_d' = x_d + delta[:63] per keypoint, then x_d'[..., :2] += delta[63:65] (B,21,3)."""
        return self._stitching(self._kp(x_s), self._kp(x_d))

    @torch.inference_mode()
    def retarget_eye(self, x_s: torch.Tensor, eye_ratio: torch.Tensor) -> torch.Tensor:
        """eye_ratio (B,3) = [c_s_left, c_s_right, c_d] -> keypoint delta (B,21,3)."""
        x_s = self._kp(x_s)
        ratio = torch.as_tensor(eye_ratio, dtype=torch.float32, device=self.device).reshape(x_s.shape[0], 3)
        return self.S.retarget_eye(torch.cat([x_s.flatten(1), ratio], 1)).reshape(x_s.shape)

    @torch.inference_mode()
    def retarget_lip(self, x_s: torch.Tensor, lip_ratio: torch.Tensor) -> torch.Tensor:
        """lip_ratio (B,2) = [c_s_lip, c_d_lip] -> keypoint delta (B,21,3)."""
        x_s = self._kp(x_s)
        ratio = torch.as_tensor(lip_ratio, dtype=torch.float32, device=self.device).reshape(x_s.shape[0], 2)
        return self.S.retarget_mouth(torch.cat([x_s.flatten(1), ratio], 1)).reshape(x_s.shape)

    # ---- W and G --------------------------------------------------------------------------------
    def _warp_inputs(self, f_s, x_s, x_d):
        b = x_d.shape[0]
        f_s = f_s.to(self.device, self.dtype)
        if f_s.shape[0] == 1 and b > 1:
            f_s = f_s.expand(b, *f_s.shape[1:])
        x_s = self._kp(x_s)
        if x_s.shape[0] == 1 and b > 1:
            x_s = x_s.expand(b, -1, -1)
        return f_s, x_s.to(self.dtype), self._kp(x_d).to(self.dtype)

    @torch.inference_mode()
    def warp(self, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> dict:
        """W: dict(out (B,256,64,64), deformation (B,16,64,64,3), occlusion_map (B,1,64,64), mask)."""
        out = self.warp_net(*self._warp_inputs(f_s, x_s, x_d))
        return {k: (v.float() if isinstance(v, torch.Tensor) else v) for k, v in out.items()}

    @torch.inference_mode()
    def decode(self, feature: torch.Tensor) -> torch.Tensor:
        """G: warped feature (B,256,64,64) -> (B,3,512,512) in (0,1)."""
        return self.decoder(feature.to(self.device, self.dtype)).float()

    @torch.inference_mode()
    def warp_decode(self, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor,
                    chunk: int | None = None) -> torch.Tensor:
        """G(W(f_s, x_s, x_d)) -> (B,3,512,512) in (0,1). f_s and x_s of batch 1 broadcast to x_d's batch.

        Frames run `chunk` at a time (default: 1 on CPU, where larger batches are slower per frame
        and multiply peak memory; all at once elsewhere).
        """
        f_s, x_s, x_d = self._warp_inputs(f_s, x_s, x_d)
        chunk = chunk or (1 if self.device.type == "cpu" else x_d.shape[0])
        outs = [self.decoder(self.warp_net(f_s[i:i + chunk], x_s[i:i + chunk], x_d[i:i + chunk])["out"]).float()
                for i in range(0, x_d.shape[0], chunk)]
        return outs[0] if len(outs) == 1 else torch.cat(outs)


def resolve_face_config(path: str | Path, animal: bool = False,
                        config: FaceEngineConfig | None = None) -> FaceEngineConfig:
    """`config` if given; else the playmate_face_config.json beside the weights (`animal/` for
    animal=True); else the public LivePortrait architecture."""
    if config is not None:
        return config
    found = read_face_config(config_folder(path, animal))
    if found is not None:
        log.info("face engine architecture read from %s", config_folder(path, animal))
    return found or FaceEngineConfig.liveportrait()


def load_face_modules(path: str | Path, cfg: FaceEngineConfig | None = None, animal: bool = False) -> tuple:
    """Locate, read and strictly load the five LivePortrait files under `path` -> (modules, WeightFiles).

    cfg None: the config file beside the weights, else the public architecture (resolve_face_config).
    """
    cfg = resolve_face_config(path, animal, cfg)
    found = locate(path, animal=animal)
    modules = build_face_modules(cfg)
    for slot in BASE_SLOTS + (STITCHING_SLOT,):
        file = found.files[slot]
        state = read_state_dict(file, slot)
        if not isinstance(state, Mapping):
            raise ValueError(f"{slot}: '{file}' holds a {type(state).__name__}, not a state dict")
        if slot == STITCHING_SLOT:
            state = stitching_state(state, file)
        load_strict(modules[slot], state, slot=slot, path=file, hint=misplaced_hint(state, slot))
    log.info("LivePortrait weights loaded from %s (%s layout)", path, found.layout)
    return modules, found


def load_face_engine(path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                     animal: bool = False, config: FaceEngineConfig | None = None, optimize: bool = True) -> FaceEngine:
    """Load LivePortrait weights from a folder in either public layout (detected) into a FaceEngine.

    `path`: e.g. `ComfyUI/models/liveportrait` (safetensors; `animal=True` uses its `animal/`) or
    `pretrained_weights/liveportrait` (official .pth). `config` defaults to the
    playmate_face_config.json beside the weights when there is one, else the public architecture.
    """
    cfg = resolve_face_config(path, animal, config)
    modules, found = load_face_modules(path, cfg, animal)
    return FaceEngine(modules, cfg, device, dtype, source=f"{path} ({found.layout})", optimize=optimize)
