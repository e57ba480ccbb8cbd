"""FaceEngine behaviour on tiny random weights: shapes, ranges, stitching, spectral norm, devices."""
import pytest
import torch
import torch.nn.functional as F

from playmate_core import FaceEngine, FaceEngineConfig, build_face_modules
from playmate_core.face.modules.spade import SNConv2d


@pytest.fixture(scope="module")
def engine(tiny_modules, tiny_cfg):
    return FaceEngine(tiny_modules, tiny_cfg)


def test_shapes_and_ranges(engine, face_image):
    f_s = engine.extract_appearance(face_image)
    assert f_s.shape == (1, 4, 16, 64, 64)                         # tiny: 4 channels x 16 depth
    m = engine.extract_motion(face_image)
    assert m["kp"].shape == (1, 21, 3) and m["exp"].shape == (1, 21, 3)
    assert all(m[k].shape == (1, 1) and abs(float(m[k])) <= 97.5 for k in ("pitch", "yaw", "roll"))
    assert m["t"].shape == (1, 3) and m["scale"].shape == (1, 1)
    x_s = engine.transform_keypoints(m)
    w = engine.warp(f_s, x_s, x_s)
    assert w["deformation"].shape == (1, 16, 64, 64, 3) and w["occlusion_map"].shape == (1, 1, 64, 64)
    assert torch.allclose(w["mask"].sum(1), torch.ones(1, 16, 64, 64), atol=1e-5)
    out = engine.warp_decode(f_s, x_s, x_s)
    assert out.shape == (1, 3, 512, 512) and 0 <= float(out.min()) and float(out.max()) <= 1


def test_f_s_and_x_s_broadcast_over_driving_batch(engine, face_image):
    f_s = engine.extract_appearance(face_image)
    x_s = engine.transform_keypoints(engine.extract_motion(face_image))
    x_d = torch.cat([x_s, x_s + 0.05])
    batched = engine.warp_decode(f_s, x_s, x_d)
    single = engine.warp_decode(f_s, x_s, x_d[1:])
    assert batched.shape[0] == 2 and (batched[1:] - single).abs().max() < 1e-3


def test_stitch_composition(engine):
    torch.manual_seed(1)
    x_s, x_d = torch.randn(2, 21, 3) * 0.3, torch.randn(2, 21, 3) * 0.3
    delta = engine.S.retarget_shoulder(torch.cat([x_s.flatten(1), x_d.flatten(1)], 1))
    expected = x_d + delta[:, :63].view(2, 21, 3)
    expected[..., 0] += delta[:, 63:64]
    expected[..., 1] += delta[:, 64:65]
    assert torch.allclose(engine.stitch(x_s, x_d), expected, atol=1e-6)


def test_retargeting_shapes_and_inputs(engine):
    x_s = torch.randn(1, 21, 3)
    eye = engine.retarget_eye(x_s, torch.tensor([[0.3, 0.32, 0.1]]))
    lip = engine.retarget_lip(x_s, torch.tensor([[0.05, 0.2]]))
    assert eye.shape == lip.shape == (1, 21, 3)
    ref = engine.S.retarget_eye(torch.cat([x_s.flatten(1), torch.tensor([[0.3, 0.32, 0.1]])], 1)).view(1, 21, 3)
    assert torch.equal(eye, ref)


def test_spectral_norm_uses_stored_vectors_not_true_norm():
    torch.manual_seed(3)
    conv = SNConv2d(8, 6, 3, padding=1).eval()
    w = conv.weight_orig.detach().flatten(1)
    u, v = conv.weight_u, conv.weight_v                             # random: far from converged
    sigma = torch.dot(u, w @ v)
    x = torch.randn(1, 8, 5, 5)
    expected = F.conv2d(x, conv.weight_orig / sigma, conv.bias, padding=1)
    assert torch.allclose(conv(x), expected, atol=1e-6)
    true_sigma = torch.linalg.matrix_norm(w, ord=2)
    assert not torch.isclose(sigma, true_sigma, rtol=1e-2)


def test_spectral_norm_training_step_is_power_iteration():
    torch.manual_seed(4)
    conv = SNConv2d(4, 4, 3).train()
    for _ in range(200):
        conv.effective_weight()
    w = conv.weight_orig.detach().flatten(1)
    sigma = torch.dot(conv.weight_u, w @ conv.weight_v)
    assert torch.isclose(sigma, torch.linalg.matrix_norm(w, ord=2), rtol=1e-3)


def test_input_validation(engine):
    with pytest.raises(ValueError, match="256x256"):
        engine.extract_motion(torch.rand(1, 3, 128, 128))
    with pytest.raises(ValueError, match="Bx3x256x256"):
        engine.extract_appearance(torch.rand(3, 256, 256))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cpu_is_refused_with_fix(tiny_cfg, dtype):
    with pytest.raises(ValueError, match="choose fp32 on CPU"):
        FaceEngine(build_face_modules(tiny_cfg), tiny_cfg, dtype=dtype)


def test_config_roundtrip_and_unknown_keys():
    cfg = FaceEngineConfig.tiny()
    assert FaceEngineConfig.from_dict(cfg.to_dict()) == cfg
    bad = cfg.to_dict()
    bad["warping"]["dense_motion"]["compres"] = 4
    with pytest.raises(ValueError, match="compres"):
        FaceEngineConfig.from_dict(bad)


def test_inference_forms_match_plain_modules(tiny_modules, tiny_cfg, face_image):
    """FastWarping/FastGenerator (folded BN and spectral norm, fused and polyphase convs) == W, G."""
    fast = FaceEngine(tiny_modules, tiny_cfg, optimize=True)
    plain = FaceEngine(tiny_modules, tiny_cfg, optimize=False)
    f_s = plain.extract_appearance(face_image)
    x_s = plain.transform_keypoints(plain.extract_motion(face_image))
    x_d = x_s + 0.03 * torch.randn(2, 21, 3, generator=torch.Generator().manual_seed(0))
    a, b = plain.warp(f_s, x_s, x_d), fast.warp(f_s, x_s, x_d)
    for key in ("out", "deformation", "occlusion_map", "mask"):
        assert (a[key] - b[key]).abs().max() < 1e-4 * max(1.0, float(a[key].abs().max())), key
    ga, gb = plain.decode(a["out"]), fast.decode(a["out"])
    assert (ga - gb).abs().max() < 1e-4


def test_polyphase_conv_equals_conv_of_upsampled():
    from playmate_core.face.modules.fastconv import conv3x3_nearest_up, nearest_up_phase_kernels
    g = torch.Generator().manual_seed(5)
    for s in (2, 3, 4):
        x, w, b = torch.randn(2, 5, 7, 6, generator=g), torch.randn(4, 5, 3, 3, generator=g), torch.randn(4, generator=g)
        ref = F.conv2d(F.interpolate(x, scale_factor=s, mode="nearest"), w, b, padding=1)
        assert torch.allclose(conv3x3_nearest_up(x, nearest_up_phase_kernels(w, s), b, s), ref, atol=1e-5)
    x, w = torch.randn(1, 3, 4, 5, 5, generator=g), torch.randn(2, 3, 3, 3, 3, generator=g)
    ref = F.conv3d(F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest"), w, None, padding=1)
    assert torch.allclose(conv3x3_nearest_up(x, nearest_up_phase_kernels(w, 2), None, 2), ref, atol=1e-5)


def test_motion_extractor_fast_path_matches_exact_path(tiny_modules, face_image):
    m = tiny_modules["motion_extractor"]
    with torch.no_grad():
        m.detector.exact = True
        exact = m(face_image)
        m.detector.exact = False
        fast = m(face_image)
    for key in exact:
        assert torch.allclose(exact[key], fast[key], atol=1e-4, rtol=1e-4), key
