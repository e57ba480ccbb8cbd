"""Motion denoiser, emotion module and CFG: shapes, presets, RoPE, identity at insertion, eq. 8."""
from __future__ import annotations

import pytest
import torch

from motion_helpers import active_model, features
from nets import perturb_
from playmate_core.motion import (MOTION_PRESETS, GuidedEpsilon, build_motion_model, combine, emotion_weights,
                                  motion_preset)
from playmate_core.motion.playmate.attention import RotaryEmbedding, RotarySelfAttention
from playmate_core.motion.layout import motion_to_vector, source_condition


def test_presets_build_and_report_parameter_counts():
    counts = {}
    for name in ("tiny", "base"):
        for emotion in (False, True):
            counts[(name, emotion)] = build_motion_model(name, emotion=emotion).parameter_counts()
    print("\nparameter counts:", counts)
    assert set(MOTION_PRESETS) == {"tiny", "base"}
    tiny, base = counts[("tiny", True)], counts[("base", True)]
    assert 0.5e6 < tiny["stage1"] < 3e6 and 0.2e6 < tiny["emotion"] < 1.5e6
    assert 50e6 < base["stage1"] < 60e6           # design estimate ~52 M (adaLN-single)
    assert 9e6 < base["emotion"] < 10e6           # design estimate ~9.5 M
    assert counts[("base", False)]["emotion"] == 0
    with pytest.raises(ValueError, match="unknown motion preset"):
        motion_preset("huge")


def test_denoiser_training_forward_shapes_and_gradients():
    model = active_model()
    d, cfg = model.denoiser.train(), model.config
    b, p, t_win, c = 2, cfg.prev_frames, cfg.window, cfg.audio_context
    audio = torch.randn(b, p + t_win + 2 * c, cfg.audio_layers, cfg.audio_dim)
    eps = d(torch.randn(b, t_win, 70), torch.tensor([3, 700]), torch.randn(b, p, 70), audio, torch.randn(b, 126))
    assert eps.shape == (b, t_win, 70)
    eps.square().mean().backward()
    assert d.proj_a.layer_logits.grad is not None and d.trunk.blocks[0].mod_table.grad.abs().sum() > 0


def test_untrained_model_has_zero_gates_and_zero_output():
    model = build_motion_model("tiny")
    assert not model.trained
    assert all(b.mod_table.abs().sum() == 0 for b in model.denoiser.trunk.blocks)
    assert model.denoiser.exp_head[-1].weight.abs().sum() == 0


def test_rope_position_codes_are_all_different():
    rope = RotaryEmbedding(32)
    same = torch.ones(1, 90, 32)                                   # the same vector at every position
    rotated = rope.rotate(same)[0]                                 # 90,32
    assert torch.equal(rotated[0], same[0, 0])                     # position 0 = identity
    dists = torch.cdist(rotated, rotated) + torch.eye(90) * 1e3
    assert dists.min() > 1e-3                                      # no two positions share a code


def test_rope_makes_attention_order_aware():
    torch.manual_seed(0)
    attn = RotarySelfAttention(64, 4).eval()
    x, perm = torch.randn(1, 90, 64), torch.randperm(90)
    out, out_perm = attn(x), attn(x[:, perm])
    assert not torch.allclose(out_perm, out[:, perm], atol=1e-4)   # not just the same permutation
    attn.rope.rotate = lambda t: t                                  # without RoPE the test must fail
    assert torch.allclose(attn(x[:, perm]), attn(x)[:, perm], atol=1e-5)


def test_trunk_output_depends_on_token_order():
    model = active_model()
    d = model.denoiser
    tokens, c = torch.randn(1, 90, 128), torch.randn(1, 128)
    perm = torch.randperm(90)
    with torch.inference_mode():
        assert not torch.allclose(d.trunk(tokens[:, perm], c), d.trunk(tokens, c)[:, perm], atol=1e-4)


def _window_inputs(model, seed=0, emotion=None):
    """Context tokens (audio / null), f_id and per-frame emotion weights for one window."""
    g = torch.Generator().manual_seed(seed)
    cfg, d = model.config, model.denoiser
    n_tok = cfg.prev_frames + cfg.window
    tok = d.audio_tokens(features(n_tok, model, seed)[None])                                 # 1,90,d
    prev = torch.randn(1, cfg.prev_frames, 70, generator=g)
    virtual = torch.zeros(n_tok, dtype=torch.bool)
    null_cur = virtual.clone()
    null_cur[cfg.prev_frames:] = True
    ctx = d.context_tokens(prev.expand(2, -1, -1), tok.expand(2, -1, -1), torch.stack([virtual, null_cur]))
    f_id = torch.randn(1, 126, generator=g)
    emo = None
    if emotion is not None:
        e, i = emotion_weights(emotion, 2, cfg.window, 25)
        emo = (e[None], i[None])
    return ctx[:1], ctx[1:], f_id, emo, torch.randn(1, cfg.window, 70, generator=g)


def test_cfg_matches_hand_computed_eq8():
    model = active_model(emotion=True)
    d, em = model.denoiser, model.emotion
    ctx_a, ctx_0, f_id, emo, x = _window_inputs(model, emotion="happy")
    t = 437
    with torch.inference_mode():
        t_emb = d.embed_time(torch.tensor([t]))
        c = t_emb + d.proj_id(f_id)
        null_e = em.null_weights(model.config.window)
        null_e = (null_e[0][None], null_e[1][None])

        def branch(ctx, e):                                        # one branch, by hand, batch 1
            h = d.trunk_forward(x, c, ctx)
            return torch.cat([d.exp_head(em(h, t_emb, *e)), d.pose_head(h)], dim=-1)

        eps_uu, eps_au, eps_ae = branch(ctx_0, null_e), branch(ctx_a, null_e), branch(ctx_a, emo)
        for w_a, w_e in ((1.5, 1.5), (2.0, 3.0), (1.0, 0.5)):
            hand = eps_uu + w_a * (eps_au - eps_uu) + w_e * (eps_ae - eps_au)
            got = GuidedEpsilon(d, em, ctx_a, ctx_0, f_id, emo, w_a, w_e)(x, t)
            assert torch.allclose(got, hand, atol=1e-4, rtol=1e-4), (w_a, w_e, (got - hand).abs().max())
            assert torch.allclose(combine(eps_uu, eps_au, eps_ae, w_a, w_e), hand)
        assert not torch.allclose(eps_ae, eps_au, atol=1e-3)         # emotion is active in this model


def test_emotion_guidance_leaves_pose_untouched_within_one_step():
    model = active_model(emotion=True)
    ctx_a, ctx_0, f_id, emo, x = _window_inputs(model, emotion="angry")
    with torch.inference_mode():
        guided = GuidedEpsilon(model.denoiser, model.emotion, ctx_a, ctx_0, f_id, emo, 2.0, 3.0)
        eps = guided.branch_epsilons(x, 300)
        assert set(eps) == {"uu", "au", "ae"}
        assert torch.equal(eps["ae"][..., 63:], eps["au"][..., 63:])       # pose: identical
        assert not torch.allclose(eps["ae"][..., :63], eps["au"][..., :63])  # expression: moved
        pose_no_e = GuidedEpsilon(model.denoiser, model.emotion, ctx_a, ctx_0, f_id, emo, 2.0, 0.0)(x, 300)[..., 63:]
        pose_e = GuidedEpsilon(model.denoiser, model.emotion, ctx_a, ctx_0, f_id, emo, 2.0, 3.0)(x, 300)[..., 63:]
        assert torch.allclose(pose_no_e, pose_e, atol=1e-5)


def test_pose_locked_pair_is_eq8_per_chain_with_chain0_pose():
    """One step of the pair generate.py samples with an emotion: chain 0 is the emotion-free eq. 8,
    chain 1 is eq. 8 with the emotion on its own x_t and context (expression), chain 0's pose bit for
    bit. Over whole generations: tests/motion/test_pose_decoupling.py."""
    model = active_model(emotion=True)
    d, em = model.denoiser, model.emotion
    ctx_a, ctx_0, f_id, emo, x = _window_inputs(model, emotion="angry")
    ctx_a1, ctx_01, _, _, x1 = _window_inputs(model, seed=1)                # chain 1: its own prev frames
    x1[..., 63:] = x[..., 63:]                                              # same noisy pose, other expression
    pair_x = torch.cat([x, x1])
    with torch.inference_mode():
        for w_a, w_e in ((1.5, 1.5), (2.0, 3.0), (1.0, 0.5), (0.0, 2.0)):
            pair = GuidedEpsilon(d, em, torch.cat([ctx_a, ctx_a1]), torch.cat([ctx_0, ctx_01]), f_id, emo,
                                 w_a, w_e)(pair_x, 500)                      # 2,T,70
            free = GuidedEpsilon(d, em, ctx_a, ctx_0, f_id, None, w_a, w_e)(x, 500)
            alone = GuidedEpsilon(d, em, ctx_a1, ctx_01, f_id, emo, w_a, w_e)(x1, 500)
            assert torch.allclose(pair[0], free[0], atol=1e-5)
            assert torch.allclose(pair[1, :, :63], alone[0, :, :63], atol=1e-5)
            assert torch.equal(pair[1, :, 63:], pair[0, :, 63:])
            assert not torch.allclose(pair[1, :, 63:], alone[0, :, 63:], atol=1e-3)   # its own pose would differ
        with pytest.raises(ValueError, match="two"):
            GuidedEpsilon(d, em, torch.cat([ctx_a, ctx_a1]), torch.cat([ctx_0, ctx_01]), f_id, None, 1.5, 1.5)


def test_emotion_blocks_at_init_are_exact_identity():
    stage1 = active_model(emotion=False, seed=3)
    with_emotion = active_model(emotion=True, seed=3, emotion_active=False)   # same stage 1, fresh module
    assert torch.equal(stage1.denoiser.trunk.blocks[0].mod_table, with_emotion.denoiser.trunk.blocks[0].mod_table)
    ctx_a, ctx_0, f_id, emo, x = _window_inputs(stage1, emotion="sad")
    with torch.inference_mode():
        ref = GuidedEpsilon(stage1.denoiser, None, ctx_a, ctx_0, f_id, None, 1.5, 1.5)(x, 600)
        got = GuidedEpsilon(with_emotion.denoiser, with_emotion.emotion, ctx_a, ctx_0, f_id, emo, 1.5, 1.5)(x, 600)
        h = torch.randn(2, 80, 128)
        e = emotion_weights("fear", 3, 80, 25)
        assert torch.equal(with_emotion.emotion(h, torch.randn(1, 128), e[0][None].expand(2, -1, -1),
                                                e[1][None].expand(2, -1, -1)), h)
    assert torch.equal(got, ref)


def test_emotion_without_module_is_refused():
    model = active_model()
    ctx_a, ctx_0, f_id, _, _ = _window_inputs(model)
    emo = emotion_weights("happy", None, 80, 25)
    with pytest.raises(ValueError, match="no emotion module"):
        GuidedEpsilon(model.denoiser, None, ctx_a, ctx_0, f_id, (emo[0][None], emo[1][None]), 1.5, 1.5)


def test_source_condition_builds_identity_feature():
    from motion_helpers import source_motion
    src = source_motion()
    vec = motion_to_vector(src)
    model = build_motion_model("tiny")
    z, f_id = source_condition(vec, src["kp"], model.stats)
    assert z.shape == (1, 70) and f_id.shape == (1, 126)
    assert torch.equal(z[:, 63:], torch.zeros(1, 7)) and torch.equal(f_id[:, :63], src["kp"].reshape(1, 63))


def test_perturbed_copy_differs_from_original():
    a = build_motion_model("tiny")
    before = a.denoiser.proj_x.weight.clone()
    perturb_(a.denoiser, 0)
    assert not torch.equal(before, a.denoiser.proj_x.weight)


def test_fast_cpu_linear_matches_f_linear_and_tracks_weight_updates():
    from playmate_core.motion.playmate.linear import Linear
    torch.manual_seed(0)
    lin = Linear(64, 48)
    x = torch.randn(2, 100, 64)[:, 10:]                            # a non-contiguous view, as h[:, P:]
    with torch.inference_mode():
        ref = torch.nn.functional.linear(x, lin.weight, lin.bias)
        assert torch.allclose(lin(x), ref, atol=1e-5)
        assert torch.allclose(lin(x, act="swish"), torch.nn.functional.silu(ref), atol=1e-5)
        assert torch.allclose(lin(x, act="gelu_tanh"), torch.nn.functional.gelu(ref, approximate="tanh"), atol=1e-5)
    lin.load_state_dict({"weight": torch.randn(48, 64), "bias": torch.zeros(48)})   # in-place update
    with torch.inference_mode():
        assert torch.allclose(lin(x), torch.nn.functional.linear(x, lin.weight, lin.bias), atol=1e-4)
    lin.to(torch.bfloat16)
    with torch.inference_mode():
        xb = x.bfloat16()
        assert torch.allclose(lin(xb).float(), torch.nn.functional.linear(xb, lin.weight, lin.bias).float(), atol=0.05)
    y = Linear(64, 8)(torch.randn(3, 64, requires_grad=True))       # training: autograd path
    y.sum().backward()


def test_training_epsilon_with_emotion_has_gradients_only_where_expected():
    model = active_model(emotion=True)
    model.train()
    model.denoiser.requires_grad_(False)                              # stage 2: stage 1 frozen
    cfg, b = model.config, 2
    audio = torch.randn(b, cfg.prev_frames + cfg.window + 2 * cfg.audio_context, cfg.audio_layers, cfg.audio_dim)
    e, i = emotion_weights("happy", 1, cfg.window, 25)
    eps = model.training_epsilon(torch.randn(b, cfg.window, 70), torch.tensor([10, 900]),
                                 torch.randn(b, cfg.prev_frames, 70), audio, torch.randn(b, 126),
                                 emotion=(e[None].expand(b, -1, -1), i[None].expand(b, -1, -1)))
    eps.square().mean().backward()
    assert model.emotion.blocks[0].adaln[1].weight.grad is not None
    assert model.denoiser.exp_head[0].weight.grad is None
