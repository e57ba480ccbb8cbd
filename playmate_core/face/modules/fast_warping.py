"""Inference form of W (warping module), built once from a loaded `WarpingNetwork`.

Same function as `WarpingNetwork.forward` in eval mode (float rounding aside), with less work:
* every conv followed by BatchNorm is folded into one conv;
* the hourglass up blocks convolve a nearest-upsampled volume (x2 on H, W): their 3x3x3 conv runs
  at the low resolution per output phase (`conv3x3_nearest_up`), 2.25x fewer multiplies.
The keypoint gaussians, sparse motions, grid sampling and the mask/occlusion convs are unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import LEAKY_SLOPE_W, grid_sample_3d
from .dense_motion import sparse_motion_input
from .fastconv import conv3x3_nearest_up, fold_batchnorm, nearest_up_phase_kernels
from .warping import WarpingNetwork


class FastWarping(nn.Module):
    def __init__(self, wnet: WarpingNetwork):
        super().__init__()
        dm = wnet.dense_motion_network
        self.compress = fold_batchnorm(dm.compress, dm.norm)
        self.down = [fold_batchnorm(b.conv, b.norm) for b in dm.hourglass.encoder.down_blocks]
        self.up = []
        for b in dm.hourglass.decoder.up_blocks:
            w, bias = fold_batchnorm(b.conv, b.norm)
            self.up.append((nearest_up_phase_kernels(w, 2), bias))            # 4 phase convs at low res
        dec = dm.hourglass.decoder
        self.final = fold_batchnorm(dec.conv, dec.norm)
        self.mask = (dm.mask.weight.detach().clone(), dm.mask.bias.detach().clone())
        self.occlusion = None if dm.occlusion is None else (dm.occlusion.weight.detach().clone(),
                                                             dm.occlusion.bias.detach().clone())
        self.third = fold_batchnorm(wnet.third.conv, wnet.third.norm)
        self.fourth = (wnet.fourth.weight.detach().clone(), wnet.fourth.bias.detach().clone())

    def _hourglass(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for w, b in self.down:
            skips.append(F.avg_pool3d(F.relu(F.conv3d(skips[-1], w, b, padding=1)), (1, 2, 2)))
        out = skips.pop()
        for phases, bias in self.up:
            out = torch.cat([F.relu(conv3x3_nearest_up(out, phases, bias, 2)), skips.pop()], dim=1)
        return F.relu(F.conv3d(out, *self.final, padding=1))                      # B,142,D,H,W

    @torch.inference_mode()
    def forward(self, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> dict:
        feature = F.relu(F.conv3d(f_s, *self.compress))                            # B,4,D,H,W
        b, _, _, h, w = feature.shape
        sparse, hg_in = sparse_motion_input(feature, x_s, x_d)
        prediction = self._hourglass(hg_in)                                        # B,142,D,H,W
        mask = F.softmax(F.conv3d(prediction, *self.mask, padding=3), dim=1)      # B,K,D,H,W
        deformation = torch.einsum("bkdhwc,bkdhw->bdhwc", sparse, mask)           # B,D,H,W,3
        occlusion = None
        if self.occlusion is not None:
            occlusion = torch.sigmoid(F.conv2d(prediction.reshape(b, -1, h, w), *self.occlusion, padding=3))
        warped = grid_sample_3d(f_s, deformation)                                  # B,32,D,H,W
        out = F.leaky_relu(F.conv2d(warped.view(b, -1, h, w), *self.third, padding=1), LEAKY_SLOPE_W)
        out = F.conv2d(out, *self.fourth)                                          # B,256,H,W
        if occlusion is not None:
            out = out * occlusion
        return {"out": out, "deformation": deformation, "occlusion_map": occlusion, "mask": mask}
