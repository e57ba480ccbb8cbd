"""Stage-0 face-space losses: reconstruction, perceptual, and the pose/expression transfer loss.

All images are (B,3,256,256) in [0,1]. G renders 512; its output is area-downsampled to 256 before
any loss or re-extraction (the prepared crops are stored at 256).

Notation: M(I) -> (kp_c, exp, R(pitch, yaw, roll), t, s); T(kp_c, R, exp, s, t) = s (kp_c R + exp) + t
(paper eq. 2, LivePortrait's keypoint transform, tz ignored); render(I_s, x) = G(W(F(I_s), x_s, x)).

Reconstruction (source I_s and driving I_d: two frames of one clip):
    x_s = T(M(I_s)),  x_d = T(kp_c(I_s), R_d, exp_d, s_d, t_d)   (canonical kp from the SOURCE)
    I_hat = render(I_s, x_d)
    L_rec = |I_hat - I_d|_1,   L_perc = sum_l |VGG_l(I_hat) - VGG_l(I_d)|_1  (relu1_1 .. relu5_1)

Pairwise head-pose and facial-dynamics transfer (our reading of Playmate §3.1, eq. 2-4; the paper
gives the idea, not code): for two frames of the SAME identity, swap pose and expression and check,
through the motion extractor, that each rendered image carries the component it was given:
    x_pose = T(kp_c(I_s), R_d, exp_s, s_d, t_d)      driving pose + source expression
    x_exp  = T(kp_c(I_s), R_s, exp_d, s_s, t_s)      source pose + driving expression
    I_pose = render(I_s, x_pose),  I_exp = render(I_s, x_exp)
    L_pose = mean|angles(M(I_pose)) - angles_d| / 10  (degrees; /10 puts it near unit scale)
    L_exp  = mean|exp(M(I_exp)) - exp_d|
    L_tr   = L_pose + L_exp
The targets (angles_d, exp_d) are detached; gradients reach F, W, G through the renders and M
through the re-extraction. Total: L = w_rec L_rec + w_perc L_perc + w_tr L_tr.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn

from playmate_core.face import keypoints as kpm


def motion(M, img: torch.Tensor) -> dict:
    """(B,3,256,256) -> dict(kp, exp (B,21,3); pitch, yaw, roll (B,1) degrees; t (B,3); scale (B,1))."""
    return kpm.motion_to_degrees(M(img))


def keypoints(kp, pose: dict, exp: torch.Tensor) -> torch.Tensor:
    """T(kp_c, R(pose), exp, s(pose), t(pose)) -> (B,21,3)."""
    return kpm.transform_keypoints(kp, pose["pitch"], pose["yaw"], pose["roll"], exp, pose["scale"], pose["t"])


def render(W, G, f_s: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
    """G(W(f_s, x_s, x_d)) at 512 -> (B,3,256,256)."""
    out = G(W(f_s, x_s, x_d)["out"])                                  # (B,3,512,512)
    return Fn.interpolate(out, size=(256, 256), mode="area")


def angles(m: dict) -> torch.Tensor:
    return torch.cat([m["pitch"], m["yaw"], m["roll"]], dim=1)         # (B,3) degrees


def face_losses(nets: dict, src: torch.Tensor, drv: torch.Tensor, vgg=None, transfer: bool = True) -> dict:
    """nets: F, M, W, G (train mode). src, drv (B,3,256,256) in [0,1] -> dict of scalar losses."""
    from .vgg19 import perceptual_loss
    F_, M_, W_, G_ = nets["F"], nets["M"], nets["W"], nets["G"]
    m_s, m_d = motion(M_, src), motion(M_, drv)
    f_s = F_(src)                                                      # (B,32,16,64,64)
    x_s = keypoints(m_s["kp"], m_s, m_s["exp"])                        # (B,21,3)
    x_d = keypoints(m_s["kp"], m_d, m_d["exp"])
    pred = render(W_, G_, f_s, x_s, x_d)                               # (B,3,256,256)
    out = {"rec": (pred - drv).abs().mean()}
    out["perc"] = perceptual_loss(vgg, pred, drv) if vgg is not None else pred.new_zeros(())
    if transfer:
        x_pose = keypoints(m_s["kp"], m_d, m_s["exp"])                 # driving pose, source exp
        x_exp = keypoints(m_s["kp"], m_s, m_d["exp"])                  # source pose, driving exp
        re_pose = motion(M_, render(W_, G_, f_s, x_s, x_pose))
        re_exp = motion(M_, render(W_, G_, f_s, x_s, x_exp))
        out["pose"] = (angles(re_pose) - angles(m_d).detach()).abs().mean() / 10.0
        out["exp"] = (re_exp["exp"] - m_d["exp"].detach()).abs().mean()
    else:
        out["pose"] = out["exp"] = pred.new_zeros(())
    return out
