"""Fréchet distance between two feature sets, the statistic behind FID (images) and FVD (videos).

Each set of N feature vectors (N, D) is summarised by a Gaussian: its mean mu (D,) and its unbiased
covariance sigma (D, D) (divide by N - 1). The distance between N(mu1, s1) and N(mu2, s2) is

    d^2 = ||mu1 - mu2||^2 + Tr(s1 + s2 - 2 (s1 s2)^(1/2))

The trace term is computed exactly from symmetric eigendecompositions rather than with
`scipy.linalg.sqrtm` of the non-symmetric product (the pytorch-fid route): s1 s2 is similar to the
positive semi-definite matrix M = s1^(1/2) s2 s1^(1/2), so

    Tr((s1 s2)^(1/2)) = sum_i sqrt(lambda_i(M)),   lambda_i clipped at 0 (rounding)

This is the same number (tested against sqrtm), is defined for singular covariances without a
diagonal offset, and is several times faster than sqrtm for D = 2048 (symmetric eigensolvers). A
covariance with a clearly negative eigenvalue is not a covariance: ValueError.

Sample size: with N < D the covariance has rank < D and the estimate is strongly biased (FID falls
as N grows; Chong & Forsyth 2020). Published FID/FVD protocols use thousands of samples (FID:
10k-50k images; FVD: 2048 videos in StyleGAN-V), so small evaluations only compare runs measured
with the same N; `frechet_from_features` warns when N is below D or MIN_SAMPLES_WARNING.

"""
from __future__ import annotations

import warnings

import numpy as np

MIN_SAMPLES_WARNING = 2048   # per set; below it FID/FVD are unstable (and FID's 2048-d covariance is singular)
NEG_RTOL = 1e-6              # eigenvalues below -NEG_RTOL * largest |eigenvalue| mean "not a covariance"


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mu (D,) and unbiased covariance sigma (D, D), both float64. Needs N >= 2."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"feature_stats needs an (N, D) array with N >= 2 samples, got shape {x.shape}")
    mu = x.mean(axis=0)                                                              # D
    sigma = np.atleast_2d(np.cov(x, rowvar=False))                                  # D, D
    return mu, sigma


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(s1 + s2 - 2 sqrt(s1 s2)) for two Gaussians given by mean and covariance.

    Raises ValueError if the shapes disagree or a covariance is not positive semi-definite.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"Fréchet distance: shapes disagree: mu {mu1.shape} vs {mu2.shape}, "
                         f"sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2))


def _check_psd(eigenvalues: np.ndarray, what: str) -> np.ndarray:
    """Eigenvalues (D,) of a covariance with rounding negatives clipped to 0; ValueError if clearly negative."""
    if eigenvalues.min() < -NEG_RTOL * max(1.0, np.abs(eigenvalues).max()):
        raise ValueError(f"Fréchet distance: {what} has a negative eigenvalue {eigenvalues.min():.3g}; it is not a "
                         f"valid (positive semi-definite) covariance estimate")
    return np.clip(eigenvalues, 0.0, None)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((s1 s2)^(1/2)) = sum sqrt(eig(s1^(1/2) s2 s1^(1/2))) for PSD s1, s2 (D,D)."""
    w1, v1 = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    w1 = _check_psd(w1, "sigma1")
    _check_psd(np.linalg.eigvalsh((sigma2 + sigma2.T) / 2), "sigma2")
    root1 = (v1 * np.sqrt(w1)) @ v1.T                                                # D,D  s1^(1/2)
    m = root1 @ sigma2 @ root1                                                       # D,D  PSD
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def _check_set(features: np.ndarray, metric: str, name: str) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{metric}: the {name} features must be an (N, D) array, got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{metric}: the {name} set has {x.shape[0]} sample(s); at least 2 are needed for a "
                         f"covariance (evaluate more frames/videos)")
    if not np.isfinite(x).all():
        raise ValueError(f"{metric}: the {name} features contain NaN or inf; check the input frames and weights")
    return x


def frechet_from_features(gen: np.ndarray, ref: np.ndarray, *, metric: str = "FID", gen_name: str = "generated",
                          ref_name: str = "reference") -> float:
    """Fréchet distance between two feature sets (N1, D) and (N2, D): FID on Inception pool3 features,
    FVD on I3D features. `metric`, `gen_name`, `ref_name` only label errors and warnings.

    Raises ValueError when a set has fewer than 2 samples or the feature dimensions differ; warns
    (UserWarning) when a set has fewer samples than D or MIN_SAMPLES_WARNING.
    """
    g = _check_set(gen, metric, gen_name)
    r = _check_set(ref, metric, ref_name)
    if g.shape[1] != r.shape[1]:
        raise ValueError(f"{metric}: the {gen_name} features have dimension {g.shape[1]} but the {ref_name} features "
                         f"have {r.shape[1]}; extract both sets with the same network")
    dim = g.shape[1]
    needed = max(dim, MIN_SAMPLES_WARNING)
    if min(len(g), len(r)) < needed:
        warnings.warn(
            f"{metric} from {len(g)} {gen_name} and {len(r)} {ref_name} samples is unreliable (biased and unstable "
            f"below {needed} samples per set). Fix: evaluate more frames/videos; {metric} needs more samples than "
            f"the feature dimension ({dim}) for a full-rank covariance, and only compare scores computed with the "
            f"same numbers of samples.", UserWarning, stacklevel=2)
    mu_g, sigma_g = feature_stats(g)
    mu_r, sigma_r = feature_stats(r)
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
