"""Multi-condition classifier-free guidance (paper eq. 8; motion-model.md §2.7).

    eps = eps(0,0) + w_a [eps(a,0) - eps(0,0)] + w_e [eps(a,e) - eps(a,0)]
        = (1 - w_a) eps(0,0) + (w_a - w_e) eps(a,0) + w_e eps(a,e)

a = audio, e = emotion, 0 = the learned null audio / the null-emotion row. Emotion enters after the
Conformer, so eps(a,0) and eps(a,e) share one trunk pass: the trunk runs for (null audio, audio) as
one batch of 2, the emotion blocks + Exp-MLP run once per branch (3), and the Pose-MLP once per trunk
pass (2). Hence the pose part of eps(a,e) IS the pose part of eps(a,0): emotion guidance moves
expression only. A branch whose coefficient in the second form is exactly 0 is skipped (w_a = 1: no
null-audio trunk; w_a = w_e: no eps(a,0) emotion pass); the sum is unchanged up to float rounding.
"""
from __future__ import annotations

import torch

from .denoiser import MotionDenoiser
from .emotion import EmotionModule


def combine(eps_uu: torch.Tensor, eps_au: torch.Tensor, eps_ae: torch.Tensor, w_a: float, w_e: float) -> torch.Tensor:
    """Eq. 8 verbatim: eps(0,0) + w_a (eps(a,0) - eps(0,0)) + w_e (eps(a,e) - eps(a,0))."""
    return eps_uu + w_a * (eps_au - eps_uu) + w_e * (eps_ae - eps_au)


class GuidedEpsilon:
    """eps for one window at any timestep, with the per-window conditions prepared once.

    ctx_audio / ctx_null: (1,P+T,d) context tokens (denoiser.context_tokens) with the current-frame
    audio real / null. f_id (1,126). emotion: None (no emotion term) or per-frame weights
    ((1,T,9), (1,T,4)); requires an emotion module. Call: (x_t (1,T,70) fp32, t int) -> eps (1,T,70) fp32.
    """

    def __init__(self, denoiser: MotionDenoiser, emotion_module: EmotionModule | None, ctx_audio: torch.Tensor,
                 ctx_null: torch.Tensor, f_id: torch.Tensor, emotion: tuple | None, w_a: float, w_e: float):
        if emotion is not None and emotion_module is None:
            raise ValueError("an emotion was given but this motion model has no emotion module; load the stage-2 "
                             "emotion checkpoint as well, or set emotion to None")
        self.denoiser, self.emotion_module = denoiser, emotion_module
        self.dtype = denoiser.null_audio.dtype
        self.id_emb = denoiser.proj_id(f_id.to(self.dtype))                       # 1,d
        t = ctx_audio.shape[1] - denoiser.cfg.prev_frames
        null = None
        if emotion_module is not None:
            e, i = emotion_module.null_weights(t, ctx_audio.device)
            null = (e[None], i[None])                                              # (1,T,9), (1,T,4)
        # branches: (name, trunk row, emotion weights, coefficient)
        if emotion is None:
            branches = [("uu", "null", null, 1 - w_a), ("au", "audio", null, w_a)]
        else:
            branches = [("uu", "null", null, 1 - w_a), ("au", "audio", null, w_a - w_e), ("ae", "audio", emotion, w_e)]
        self.branches = [b for b in branches if b[3] != 0]
        self.trunk_rows = [r for r in ("null", "audio") if any(b[1] == r for b in self.branches)]
        self.ctx = torch.cat([{"null": ctx_null, "audio": ctx_audio}[r] for r in self.trunk_rows])   # R,P+T,d
        if emotion_module is not None:                                    # constant over the steps
            self.emo_rows, self.emo_index = emotion_module.distinct_rows(
                torch.cat([b[2][0] for b in self.branches]), torch.cat([b[2][1] for b in self.branches]))  # U,d ; K,T

    def branch_epsilons(self, x_t: torch.Tensor, t: int) -> dict:
        """{branch name: eps (1,T,70) fp32} for the branches with a non-zero coefficient."""
        d = self.denoiser
        t_emb = d.embed_time(torch.tensor([t], device=x_t.device))                 # 1,d
        h = d.trunk_forward(x_t.to(self.dtype), t_emb + self.id_emb, self.ctx)      # R,T,d
        pose = d.pose_head(h)                                                       # R,T,7
        rows = [self.trunk_rows.index(b[1]) for b in self.branches]
        h_exp = h[rows]                                                             # K,T,d
        if self.emotion_module is not None:
            h_exp = self.emotion_module.run(h_exp, t_emb + self.emo_rows, self.emo_index)   # K,T,d
        exp = d.exp_head(h_exp)                                                     # K,T,63
        return {b[0]: torch.cat([exp[i:i + 1], pose[r:r + 1]], dim=-1).float()
                for i, (b, r) in enumerate(zip(self.branches, rows))}

    def __call__(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        eps = self.branch_epsilons(x_t, t)
        return sum(b[3] * eps[b[0]] for b in self.branches)                        # 1,T,70
