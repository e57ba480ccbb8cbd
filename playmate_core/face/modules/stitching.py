"""S, the stitching and retargeting MLPs (LivePortrait §3.2).

stitching: [x_s, x_d] (B,126) -> delta (B,65) = 63 keypoint offsets + (tx, ty);
lip: [x_s, c_s_lip, c_d_lip] (B,65) -> delta (B,63); eye: [x_s, c_s_l, c_s_r, c_d] (B,66) -> delta (B,63).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import MLPConfig, StitchingConfig


class RetargetMLP(nn.Module):
    """Linear/ReLU stack; state-dict keys mlp.{0,2,4,...}.weight/bias."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        sizes = [cfg.input_size, *cfg.hidden_sizes]
        layers = []
        for cin, cout in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(cin, cout), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], cfg.output_size))
        self.mlp = nn.Sequential(*layers)
        self._linears = tuple(layers[::2])          # plain tuple: not registered twice in state_dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Calls the layers' functions directly: these MLPs take microseconds, so nn.Sequential's
        # per-module call overhead would dominate.
        *hidden, last = self._linears
        for layer in hidden:
            x = F.relu(F.linear(x, layer.weight, layer.bias))
        return F.linear(x, last.weight, last.bias)


class StitchingRetargeting(nn.Module):
    """The three MLPs; attribute names match the checkpoint's top-level keys."""

    def __init__(self, cfg: StitchingConfig):
        super().__init__()
        self.retarget_shoulder = RetargetMLP(cfg.stitching)
        self.retarget_mouth = RetargetMLP(cfg.lip)
        self.retarget_eye = RetargetMLP(cfg.eye)


class StitchingInference:
    """Stitching for inference: x_d' = x_d + offsets(S([x_s, x_d])), in a few BLAS calls.

    The last layer is composed with `stitching_composition` (so it outputs the 3N per-keypoint
    offsets directly) and weights are stored transposed for `addmm`: the MLP costs microseconds, so
    per-call overheads are what this removes.
    """

    def __init__(self, mlp: RetargetMLP, num_kp: int):
        *hidden, last = mlp._linears
        self.layers = [(l.weight.detach().t().contiguous(), l.bias.detach().clone()) for l in hidden]
        comp = stitching_composition(num_kp).to(last.weight.device, last.weight.dtype)
        self.last_w = (last.weight.detach().t() @ comp).contiguous()               # hidden,3N
        self.last_b = last.bias.detach() @ comp                                    # 3N

    def __call__(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """x_s, x_d (B,N,3) float32 -> stitched x_d (B,N,3)."""
        h = torch.cat([x_s.flatten(1), x_d.flatten(1)], 1)                          # B,6N
        for w, b in self.layers:
            h = torch.addmm(b, h, w).relu_()
        return torch.addmm(self.last_b, h, self.last_w).add_(x_d.flatten(1)).view(x_d.shape)


def stitching_composition(num_kp: int) -> torch.Tensor:
    """C (3N+2, 3N) with delta @ C = the per-keypoint offsets of stitching:
    offset[3k+j] = delta[3k+j] + [j == 0] delta[3N] + [j == 1] delta[3N+1]  (tx, ty to every keypoint)."""
    c = torch.zeros(3 * num_kp + 2, 3 * num_kp)
    c[: 3 * num_kp] = torch.eye(3 * num_kp)
    c[3 * num_kp, 0::3] = 1.0
    c[3 * num_kp + 1, 1::3] = 1.0
    return c
