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


# A Cholesky pivot carrying less than this fraction of its coordinate's variance means the covariance is singular to
# working precision (fewer samples than dimensions, or a constant feature): its factor would be round-off, so the
# exact eigendecomposition square root is used instead.
CHOLESKY_MIN_PIVOT = 1e-10
SQRT_METHODS = ("cholesky", "eigh")


@dataclass(frozen=True, slots=True)
class CovarianceFactor:
    """A with sigma = A A^T. Then A^T s2 A is symmetric PSD and similar to sigma s2, so its eigenvalues are those of
    sigma s2 and tr sqrt(sigma s2) = sum sqrt(eigvalsh(A^T s2 A)): no square-root matrix of the product is formed.

    `method` says which A: "cholesky" (the lower Cholesky factor: one O(d^3/3) factorisation, no eigenvectors) or
    "eigh" (the symmetric square root from a full eigendecomposition, the exact form for singular covariances).
    """

    a: np.ndarray
    method: str

    def trace_sqrt_product(self, sigma2: np.ndarray, rtol: float = 1e-6) -> float:
        """tr sqrt(sigma sigma2). Eigenvalues that come out negative beyond round-off mean the inputs are not
        covariance matrices: that is an error, never silently dropped (scipy's sqrtm discards an imaginary part)."""
        # The symmetric root is its own transpose (its computed form only to round-off): used as is on both sides,
        # "eigh" reproduces records measured with it bit for bit.
        left = self.a if self.method == "eigh" else self.a.T
        m = left @ np.asarray(sigma2, np.float64) @ self.a
        w = np.linalg.eigvalsh((m + m.T) / 2)
        scale = max(float(np.abs(w).max(initial=0.0)), 1e-300)
        if w.min(initial=0.0) < -rtol * scale - 1e-12:
            raise ValueError(f"covariance product has a negative eigenvalue {w.min():.3e} (scale {scale:.3e}): "
                             "inputs are not positive semi-definite")
        return float(np.sqrt(np.clip(w, 0, None)).sum())


def factor_covariance(sigma: np.ndarray, method: str = "cholesky") -> CovarianceFactor:
    """Factor a covariance once for any number of tr sqrt(sigma s2): Cholesky when sigma is positive definite to
    working precision, else (or with method="eigh") the exact symmetric square root."""
    if method not in SQRT_METHODS:
        raise ValueError(f"unknown square-root method {method!r}; use one of {', '.join(SQRT_METHODS)}")
    s = np.asarray(sigma, np.float64)
    if method == "cholesky":
        lower = _cholesky_or_none(s)
        if lower is not None:
            return CovarianceFactor(lower, "cholesky")
    return CovarianceFactor(_sqrt_psd(s), "eigh")


def _cholesky_or_none(sigma: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor, or None where sigma is not positive definite to working precision."""
    try:
        lower = np.linalg.cholesky((sigma + sigma.T) / 2)
    except np.linalg.LinAlgError:  # not numerically positive definite
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        explained = np.diagonal(lower) ** 2 / np.diagonal(sigma)
    return lower if np.all(explained >= CHOLESKY_MIN_PIVOT) else None


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, rtol: float = 1e-6, method: str = "cholesky") -> float:
    """tr sqrt(sigma1 sigma2) from the eigenvalues of A^T sigma2 A, sigma1 = A A^T (see `CovarianceFactor`)."""
    return factor_covariance(sigma1, method).trace_sqrt_product(sigma2, rtol)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     method: str = "cholesky") -> float:
    """Fréchet distance between Gaussians: |mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr sqrt(s1 s2) (Heusel et al. 2017).

    `method` picks how sigma1 is factored ("cholesky", with the exact fallback for singular sigma1, or "eigh"); both
    give the exact eigenvalues in float64 and agree to round-off."""
    return _frechet(mu1, mu2, sigma2, factor_covariance(_check_shapes(mu1, sigma1, mu2, sigma2), method),
                    float(np.trace(sigma1)))


def _check_shapes(mu1, sigma1, mu2, sigma2) -> np.ndarray:
    if np.shape(mu1) != np.shape(mu2) or np.shape(sigma1) != np.shape(sigma2):
        raise ValueError(f"statistics disagree in shape: means {np.shape(mu1)} vs {np.shape(mu2)}, covariances "
                         f"{np.shape(sigma1)} vs {np.shape(sigma2)}")
    return np.asarray(sigma1, np.float64)


def _frechet(mu1, mu2, sigma2, factor1: CovarianceFactor, trace1: float) -> float:
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    tr = factor1.trace_sqrt_product(sigma2)
    return float(diff @ diff + trace1 + np.trace(sigma2) - 2.0 * tr)


def bootstrap_fid_std(features: np.ndarray, mu_ref: np.ndarray, sigma_ref: np.ndarray, n_boot: int,
                      seed: int = 0, method: str = "cholesky") -> float:
    """Standard deviation of FID over resamples (with replacement) of the generated features.

    Resampling duplicates samples and so biases FID upward; only the spread is used, around the point estimate. The
    reference covariance is factored once (tr sqrt(s1 s2) = tr sqrt(s2 s1)), so each resample costs one product and
    one eigvalsh.
    """
    rng = np.random.default_rng(seed)
    one = _resample_fid_eigh(mu_ref, sigma_ref) if method == "eigh" else _resample_fid(mu_ref, sigma_ref)
    values = [one(features[rng.integers(0, len(features), size=len(features))]) for _ in range(n_boot)]
    return float(np.std(values, ddof=1))


def _resample_fid(mu_ref: np.ndarray, sigma_ref: np.ndarray):
    ref, trace_ref = factor_covariance(sigma_ref), float(np.trace(sigma_ref))  # factored once for all resamples
    return lambda f: _frechet(mu_ref, f.mean(0), np.cov(f, rowvar=False), ref, trace_ref)


def _resample_fid_eigh(mu_ref: np.ndarray, sigma_ref: np.ndarray):
    # factors each resample's covariance, in the order records measured with "eigh" used
    return lambda f: frechet_distance(f.mean(0), np.cov(f, rowvar=False), mu_ref, sigma_ref, "eigh")


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
    # resamples drawn in blocks of about 2^20 indices: the same draws (the generator fills rows in order) as one
    # (n_boot, n) matrix, without its memory (125 MiB at n = 4096)
    block = max(1, (1 << 20) // v.size)
    means = np.concatenate([v[rng.integers(0, v.size, size=(min(block, n_boot - i), v.size))].mean(1)
                            for i in range(0, n_boot, block)])
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
