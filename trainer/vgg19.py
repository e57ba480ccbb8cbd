"""VGG19 feature extractor for the perceptual loss (our own definition; no torchvision import).

Layer indices follow torchvision's `vgg19().features`, so a torchvision-layout state dict
(`vgg19-dcbb9e9d.pth`: keys `features.N.weight` / `features.N.bias`) loads directly; `classifier.*`
keys are ignored. Only the layers up to relu5_1 (index 29) are built.

    x (B,3,H,W) in [0,1] -> ImageNet normalisation -> [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1]
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger("playmate.trainer")

# torchvision's cfg "E"; "M" = 2x2 max pool
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
TAPS = (1, 6, 11, 20, 29)                  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class VGG19(nn.Module):
    def __init__(self, last: int = TAPS[-1]):
        super().__init__()
        layers, c = [], 3
        for v in CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers[:last + 1])
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B,3,H,W) in [0,1] -> activations at TAPS."""
        h, out = (x - self.mean) / self.std, []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in TAPS:
                out.append(h)
        return out


WHERE = ("torchvision's ImageNet VGG19, vgg19-dcbb9e9d.pth (548 MB): https://download.pytorch.org/models/"
         "vgg19-dcbb9e9d.pth, or torchvision.models.vgg19(weights='IMAGENET1K_V1') on a machine with internet, "
         "which caches it under ~/.cache/torch/hub/checkpoints/")


def load_vgg19(path: str | Path) -> VGG19:
    """Frozen VGG19 from a torchvision-layout state dict file (loaded with weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"VGG19 weights '{path}' not found; pass --vgg19 with {WHERE} (or any state dict "
                                f"with features.N.weight/bias keys).")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch's own text would suggest an unsafe weights_only=False
        raise ValueError(f"VGG19 weights '{path}' cannot be read as a plain state dict ({type(exc).__name__}); it is "
                         f"truncated, not a torch file, or holds pickled objects other than tensors. Use {WHERE}.") \
            from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"VGG19 weights '{path}' hold a {type(state).__name__}, not a state dict; use {WHERE}.")
    model = VGG19()
    wanted = model.state_dict().keys()
    picked = {k: v for k, v in state.items() if k in wanted}
    missing = sorted(set(wanted) - set(picked))
    if missing:
        raise ValueError(f"VGG19 weights '{path}' lack {len(missing)} key(s), first '{missing[0]}'; expected a "
                         f"torchvision vgg19 state dict (features.N.weight/bias).")
    model.load_state_dict(picked)
    log.info("VGG19 perceptual network loaded from %s", path)
    return model.eval().requires_grad_(False)


def perceptual_loss(vgg: VGG19, pred: torch.Tensor, target: torch.Tensor,
                    weights=(1.0, 1.0, 1.0, 1.0, 1.0)) -> torch.Tensor:
    """Sum over taps of w * mean|phi(pred) - phi(target)| (pred, target (B,3,H,W) in [0,1])."""
    fp, ft = vgg(pred), vgg(target)
    return sum(w * (a - b.detach()).abs().mean() for w, a, b in zip(weights, fp, ft))
