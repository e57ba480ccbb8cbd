"""Fréchet distance (FID/FVD statistic): closed forms, an independent scipy/eigh route, robustness, messages."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import linalg

from playmate_core.eval import frechet
from playmate_core.eval.frechet import (MIN_SAMPLES_WARNING, feature_stats, frechet_distance, frechet_from_features,
                                       trace_sqrt_product)


def random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    a = rng.normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


def fd_symmetric(mu1, s1, mu2, s2) -> float:
    """Independent route: Tr sqrt(s1 s2) = Tr sqrt(s1^1/2 s2 s1^1/2), a symmetric PSD matrix (eigh only)."""
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root @ s2 @ root
    ev = np.linalg.eigvalsh((inner + inner.T) / 2)
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def test_feature_stats_are_mean_and_unbiased_covariance():
    x = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    mu, sigma = feature_stats(x)
    assert mu.dtype == sigma.dtype == np.float64 and mu.shape == (6,) and sigma.shape == (6, 6)
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(axis=0), rtol=1e-12)
    centred = x.astype(np.float64) - mu
    np.testing.assert_allclose(sigma, centred.T @ centred / (len(x) - 1), rtol=1e-10)   # N - 1, not N


def test_feature_stats_one_dimension_gives_a_matrix():
    mu, sigma = feature_stats(np.arange(5.0)[:, None])
    assert sigma.shape == (1, 1) and sigma[0, 0] == pytest.approx(2.5)


def test_matches_direct_scipy_computation():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = random_spd(rng, 8), random_spd(rng, 8)
    diff = mu1 - mu2
    direct = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2).real)
    got = frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(got, float)
    assert got == pytest.approx(direct, rel=1e-9)
    assert got == pytest.approx(fd_symmetric(mu1, s1, mu2, s2), rel=1e-8)
    assert got == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-8)              # symmetric


def test_closed_form_for_commuting_diagonal_covariances():
    # d^2 = sum (m1 - m2)^2 + sum (sqrt(v1) - sqrt(v2))^2 when both covariances are diagonal.
    got = frechet_distance(np.array([0.0, 1.0, 2.0]), np.diag([1.0, 4.0, 9.0]),
                           np.array([1.0, 1.0, 0.0]), np.diag([4.0, 4.0, 1.0]))
    assert got == pytest.approx((1 + 0 + 4) + (1 + 0 + 4), rel=1e-12)
    rng = np.random.default_rng(2)
    m1, m2, v1, v2 = rng.normal(size=5), rng.normal(size=5), rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_same_set_is_zero_and_shift_adds_squared_norm():
    x = np.random.default_rng(3).normal(size=(MIN_SAMPLES_WARNING + 10, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                   # enough samples: no warning
        assert frechet_from_features(x, x) == pytest.approx(0.0, abs=1e-9)
        shift = np.arange(8.0) / 4
        assert frechet_from_features(x + shift, x) == pytest.approx(shift @ shift, rel=1e-7)


def test_rank_deficient_covariances_stay_finite_and_correct():
    rng = np.random.default_rng(4)
    gen, ref = rng.normal(size=(6, 40)), rng.normal(size=(7, 40)) + 0.5           # N < D: singular covariances
    with pytest.warns(UserWarning):
        got = frechet_from_features(gen, ref)
    (mu1, s1), (mu2, s2) = feature_stats(gen), feature_stats(ref)
    assert np.isfinite(got)
    assert got == pytest.approx(fd_symmetric(mu1, s1, mu2, s2), rel=1e-5)


def test_singular_product_where_sqrtm_fails_is_exact():
    # PSD matrices (ranks 1 and 3) whose product has a defective zero eigenvalue: scipy's sqrtm of
    # the product returns inf; the symmetric eigen form needs no regularisation.
    s1 = np.array([[8.0, 0.0, -4.0], [0.0, 0.0, 0.0], [-4.0, 0.0, 2.0]])
    s2 = np.array([[5.0, -2.0, 0.0], [-2.0, 8.0, 6.0], [0.0, 6.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        assert not np.isfinite(linalg.sqrtm(s1 @ s2)).all()
    got = frechet_distance(np.zeros(3), s1, np.zeros(3), s2)
    assert np.isfinite(got)
    assert got == pytest.approx(fd_symmetric(np.zeros(3), s1, np.zeros(3), s2), abs=1e-9)


def test_trace_term_matches_sqrtm_on_a_large_covariance():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(300, 120)), rng.normal(size=(250, 120)) @ rng.normal(size=(120, 120)) * 0.3
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    assert trace_sqrt_product(s1, s2) == pytest.approx(np.trace(linalg.sqrtm(s1 @ s2).real), rel=1e-7)


def test_non_covariance_is_rejected():
    with pytest.raises(ValueError, match="negative eigenvalue"):
        frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))   # not a covariance


def test_too_few_samples_warns_with_counts_and_fix(monkeypatch):
    # The 2048-d square root takes minutes on a small CPU; only the warning is under test here.
    monkeypatch.setattr(frechet, "frechet_distance", lambda *args: 0.0)
    rng = np.random.default_rng(5)
    with pytest.warns(UserWarning) as record:
        frechet_from_features(rng.normal(size=(5, 2048)), rng.normal(size=(7, 2048)))
    message = str(record[0].message)
    assert "FID from 5 generated and 7 reference samples" in message
    assert ("evaluate more frames/videos; FID needs more samples than the feature dimension (2048) for a "
            "full-rank covariance") in message


def test_warns_below_minimum_even_when_covariance_is_full_rank():
    rng = np.random.default_rng(6)
    gen, ref = rng.normal(size=(150, 64)), rng.normal(size=(120, 64))
    with pytest.warns(UserWarning, match=r"FVD from 150 clips and 120 real clips samples") as record:
        value = frechet_from_features(gen, ref, metric="FVD", gen_name="clips", ref_name="real clips")
    assert f"below {MIN_SAMPLES_WARNING} samples" in str(record[0].message)
    assert "feature dimension (64)" in str(record[0].message)
    assert np.isfinite(value) and value > 0


def test_errors_name_metric_and_set():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(10, 8))
    with pytest.raises(ValueError, match="FID: the generated set has 1 sample"):
        frechet_from_features(x[:1], x)
    with pytest.raises(ValueError, match="FVD: the ground truth set has 0 sample"):
        frechet_from_features(x, x[:0], metric="FVD", ref_name="ground truth")
    with pytest.raises(ValueError, match="FID: the generated features have dimension 8 but the reference "
                                         "features have 6"):
        frechet_from_features(x, rng.normal(size=(10, 6)))
    with pytest.raises(ValueError, match=r"FID: the reference features must be an \(N, D\) array"):
        frechet_from_features(x, x[0])
    with pytest.raises(ValueError, match="NaN or inf"):
        frechet_from_features(x, np.full((10, 8), np.nan))
    with pytest.raises(ValueError, match="shapes disagree"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
