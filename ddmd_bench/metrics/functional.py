"""Pure math behind the metrics (no models, no I/O); golden-value tests live in tests/unit/test_functional.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def mean_cov(n: int, total: np.ndarray, outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) from streamed moments n, sum x, sum x x^T, with the unbiased (n - 1) covariance that numpy.cov
    and clean-fid use. Float64 throughout (EDM2 / torchmetrics accumulate the same way)."""
    if n < 2:
        raise ValueError(f"need at least 2 samples for a covariance, have {n}")
    mu = np.asarray(total, np.float64) / n
    sigma = (np.asarray(outer, np.float64) - n * np.outer(mu, mu)) / (n - 1)
    return mu, sigma


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, rtol: float = 1e-6) -> float:
    """tr sqrt(sigma1 sigma2) via the symmetric form sqrt(s1) s2 sqrt(s1) (PSD, so eigh is exact and real).

    Eigenvalues that come out negative beyond round-off mean the inputs are not covariance matrices: that is an
    error, never silently dropped (scipy's sqrtm discards an imaginary part instead).
    """
    s1 = _sqrt_psd(np.asarray(sigma1, np.float64))
    m = s1 @ np.asarray(sigma2, np.float64) @ s1
    w = np.linalg.eigvalsh((m + m.T) / 2)
    scale = max(float(np.abs(w).max(initial=0.0)), 1e-300)
    if w.min(initial=0.0) < -rtol * scale - 1e-12:
        raise ValueError(f"covariance product has a negative eigenvalue {w.min():.3e} (scale {scale:.3e}): "
                         "inputs are not positive semi-definite")
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between Gaussians: |mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr sqrt(s1 s2) (Heusel et al. 2017)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    if mu1.shape != mu2.shape or np.shape(sigma1) != np.shape(sigma2):
        raise ValueError(f"statistics disagree in shape: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    tr = trace_sqrt_product(sigma1, sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr)


def bootstrap_fid_std(features: np.ndarray, mu_ref: np.ndarray, sigma_ref: np.ndarray, n_boot: int,
                      seed: int = 0) -> float:
    """Standard deviation of FID over resamples (with replacement) of the generated features.

    Resampling duplicates samples and so biases FID upward; only the spread is used, around the point estimate.
    """
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        f = features[rng.integers(0, len(features), size=len(features))]
        values.append(frechet_distance(f.mean(0), np.cov(f, rowvar=False), mu_ref, sigma_ref))
    return float(np.std(values, ddof=1))


def kernel_inception_distance(feats1: np.ndarray, feats2: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): unbiased MMD^2 with the kernel (x.y / d + 1)^3, mean and std over subsets.

    Each subset draws m = min(n1, n2, subset_size) samples without replacement from each set.
    """
    f1, f2 = np.asarray(feats1, np.float64), np.asarray(feats2, np.float64)
    d = f1.shape[1]
    m = min(len(f1), len(f2), subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set, have {min(len(f1), len(f2))}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values, ddof=1)) if subsets > 1 else 0.0


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity of two [N, d] embedding matrices, in float64."""
    a, b = a.double(), b.double()
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    value: float
    low: float
    high: float


def bootstrap_mean(values: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Mean with a percentile-bootstrap confidence interval (seeded, so reproducible)."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        raise ValueError("cannot bootstrap an empty set of values")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    a = (1 - level) / 2
    return Interval(float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a)))


def quantile_summary(samples: list[float]) -> dict[str, float]:
    """median, p90, IQR, mean, min of timing samples (pytest-benchmark style, with linear interpolation)."""
    s = np.asarray(samples, np.float64)
    if s.size == 0:
        raise ValueError("no timing samples")
    q1, med, q3, p90 = np.quantile(s, [0.25, 0.5, 0.75, 0.9])
    return {"median": float(med), "p90": float(p90), "iqr": float(q3 - q1), "mean": float(s.mean()),
            "min": float(s.min()), "rounds": int(s.size)}


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (the manifold radius of Kynkäänniemi et al. 2019)."""
    d = _pairwise(features, features)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself (distance 0)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): precision is the fraction of generated samples
    inside the union of real k-NN balls; recall is the fraction of real samples inside the generated balls."""
    real_r, fake_r = knn_radii(real, k), knn_radii(fake, k)
    d = _pairwise(fake, real)  # [n_fake, n_real]
    precision = float((d <= real_r[None, :]).any(axis=1).mean())
    recall = float((d.T <= fake_r[None, :]).any(axis=1).mean())
    return precision, recall
