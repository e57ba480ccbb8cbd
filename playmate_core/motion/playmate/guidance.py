"""Multi-condition classifier-free guidance (paper eq. 8; motion-model.md §2.7), with pose-locked chains.

    eps = eps(0,0) + w_a [eps(a,0) - eps(0,0)] + w_e [eps(a,e) - eps(a,0)]
        = (1 - w_a) eps(0,0) + (w_a - w_e) eps(a,0) + w_e eps(a,e)

a = audio, e = emotion, 0 = the learned null audio / the null-emotion row. Emotion enters after the
Conformer, so eps(a,0) and eps(a,e) share one trunk pass: the trunk runs for (null audio, audio) as
one batch, the emotion blocks + Exp-MLP once per branch, the Pose-MLP once per trunk pass. Within
one step the pose part of eps(a,e) IS that of eps(a,0). Across steps it is not enough: the trunk
reads the whole noisy motion, expression included, so an emotion would reach the pose through x_t
(and through the previous frames of later windows). Hence the pair of chains (generate.py):

    chain 0  emotion-free: eq. 8 with e = none, exactly the sampler of emotion=None; it owns the pose
    chain 1  with the emotion: eq. 8 on its own x_t (its own expression, chain 0's pose); its
             Pose-MLP is never run: its pose eps is chain 0's, and the sampler copies chain 0's pose

Each chain runs as its own trunk batch (chain 0's is exactly the emotion=None run's). A branch whose
coefficient in the second form is exactly 0 is skipped (w_a = 1: no null-audio pass; w_a = w_e: no eps(a,0) emotion pass).
"""
from __future__ import annotations

import torch

from ..layout import POSE, POSE_DIM
from .denoiser import MotionDenoiser
from .emotion import EmotionModule


def combine(eps_uu: torch.Tensor, eps_au: torch.Tensor, eps_ae: torch.Tensor, w_a: float, w_e: float) -> torch.Tensor:
    """Eq. 8 verbatim: eps(0,0) + w_a (eps(a,0) - eps(0,0)) + w_e (eps(a,e) - eps(a,0))."""
    return eps_uu + w_a * (eps_au - eps_uu) + w_e * (eps_ae - eps_au)


def eq8_branches(emotion: tuple | None, null: tuple | None, w_a: float, w_e: float) -> list:
    """[(name, trunk row, emotion weights, coefficient)] of one chain, zero coefficients dropped."""
    if emotion is None:
        branches = [("uu", "null", null, 1 - w_a), ("au", "audio", null, w_a)]
    else:
        branches = [("uu", "null", null, 1 - w_a), ("au", "audio", null, w_a - w_e), ("ae", "audio", emotion, w_e)]
    return [b for b in branches if b[3] != 0]


class GuidedEpsilon:
    """eps for one window at any timestep, with the per-window conditions prepared once.

    ctx_audio / ctx_null: (C,P+T,d) context tokens (denoiser.context_tokens) with the current-frame
    audio real / null, one row per chain. C = 1: one chain guided with `emotion`. C = 2: the
    pose-locked pair (module docstring): chain 0 emotion-free, chain 1 with `emotion` (required).
    Each chain is evaluated on its own (its own trunk batch), so chain 0 runs exactly the kernels,
    shapes and batch of emotion=None: its result is bit-identical to that run on any device and in
    any precision (one shared batch of both chains differed by 0.24 deg of pose in bf16 at base size).
    f_id (1,126). emotion: None (no emotion term) or per-frame weights ((1,T,9), (1,T,4)); requires
    an emotion module. Call: (x_t (C,T,70) fp32, t int) -> eps (C,T,70) fp32, where chain 1's pose
    part is chain 0's, bit for bit.
    """

    def __init__(self, denoiser: MotionDenoiser, emotion_module: EmotionModule | None, ctx_audio: torch.Tensor,
                 ctx_null: torch.Tensor, f_id: torch.Tensor, emotion: tuple | None, w_a: float, w_e: float,
                 pose: bool = True):
        if emotion is not None and emotion_module is None:
            raise ValueError("an emotion was given but this motion model has no emotion module; load the stage-2 "
                             "emotion checkpoint as well, or set emotion to None")
        self.chains = ctx_audio.shape[0]
        if self.chains not in (1, 2) or (self.chains == 2 and emotion is None):
            raise ValueError(f"GuidedEpsilon takes one chain, or two (emotion-free + emotion) with an emotion; got "
                             f"{self.chains} context rows and emotion={'set' if emotion is not None else None}")
        if self.chains == 2:                                   # chain 0 free, chain 1 without its own pose head
            args = (denoiser, emotion_module)
            self.pair = (GuidedEpsilon(*args, ctx_audio[:1], ctx_null[:1], f_id, None, w_a, w_e),
                         GuidedEpsilon(*args, ctx_audio[1:], ctx_null[1:], f_id, emotion, w_a, w_e, pose=False))
            return
        self.denoiser, self.emotion_module, self.pose = denoiser, emotion_module, pose
        self.dtype = denoiser.null_audio.dtype
        self.id_emb = denoiser.proj_id(f_id.to(self.dtype))                       # 1,d
        t = ctx_audio.shape[1] - denoiser.cfg.prev_frames
        null = None
        if emotion_module is not None:
            e, i = emotion_module.null_weights(t, ctx_audio.device)
            null = (e[None], i[None])                                              # (1,T,9), (1,T,4)
        self.branches = eq8_branches(emotion, null, w_a, w_e)                      # (name, row, weights, coef)
        self.trunk_rows = [r for r in ("null", "audio") if any(b[1] == r for b in self.branches)]
        ctx = {"null": ctx_null, "audio": ctx_audio}
        self.ctx = torch.cat([ctx[r] for r in self.trunk_rows])                    # R,P+T,d
        self.rows = [self.trunk_rows.index(b[1]) for b in self.branches]           # K
        if emotion_module is not None:                                    # constant over the steps
            self.emo_rows, self.emo_index = emotion_module.distinct_rows(
                torch.cat([b[2][0] for b in self.branches]), torch.cat([b[2][1] for b in self.branches]))  # U,d ; K,T

    def _chain_epsilons(self, x_t: torch.Tensor, t: int) -> dict:
        """One chain: {branch name: eps (1,T,70) fp32}; without a pose head the pose part is zero."""
        d = self.denoiser
        t_emb = d.embed_time(torch.tensor([t], device=x_t.device))                 # 1,d
        h = d.trunk_forward(x_t.to(self.dtype), t_emb + self.id_emb, self.ctx)     # R,T,d
        h_exp = h[self.rows]                                                        # K,T,d
        if self.emotion_module is not None:
            h_exp = self.emotion_module.run(h_exp, t_emb + self.emo_rows, self.emo_index)   # K,T,d
        exp = d.exp_head(h_exp).float()                                             # K,T,63
        pose = d.pose_head(h).float() if self.pose else exp.new_zeros(len(self.trunk_rows), exp.shape[1], POSE_DIM)
        return {b[0]: torch.cat([exp[i:i + 1], pose[r:r + 1]], dim=-1)
                for i, (b, r) in enumerate(zip(self.branches, self.rows))}

    def _guided(self, eps: dict) -> torch.Tensor:
        return sum(b[3] * eps[b[0]] for b in self.branches)                         # 1,T,70

    def branch_epsilons(self, x_t: torch.Tensor, t: int) -> dict:
        """{branch key: eps (1,T,70) fp32} for the branches with a non-zero coefficient: 'uu', 'au',
        'ae' (chain 0 of a pair: 'free:uu', 'free:au'). The pose part of a branch of a pair's chain 1
        is chain 0's guided pose eps (the pose that chain follows)."""
        if self.chains == 1:
            return self._chain_epsilons(x_t, t)
        free, emo = self.pair
        eps0, eps1 = free._chain_epsilons(x_t[:1], t), emo._chain_epsilons(x_t[1:2], t)
        locked = free._guided(eps0)[..., POSE]
        return {**{"free:" + k: v for k, v in eps0.items()},
                **{k: torch.cat([v[..., :POSE.start], locked], dim=-1) for k, v in eps1.items()}}

    def __call__(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        if self.chains == 1:
            return self._guided(self._chain_epsilons(x_t, t))
        free, emo = self.pair
        out0 = free._guided(free._chain_epsilons(x_t[:1], t))                        # exactly emotion=None's
        out1 = emo._guided(emo._chain_epsilons(x_t[1:2], t))
        out1[..., POSE] = out0[..., POSE]                                          # exact, not a rounded sum
        return torch.cat([out0, out1])                                             # 2,T,70
