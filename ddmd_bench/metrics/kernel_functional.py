"""Pure math of the set-to-set metrics on embeddings: CMMD's Gaussian-kernel MMD and the k-NN manifold membership
behind improved precision and recall. No models, no I/O; golden-value tests live in tests/unit/test_cmmd.py and
tests/unit/test_precision_recall.py."""

from __future__ import annotations

import numpy as np

from ddmd_bench.metrics import functional as metric_fn

CMMD_SIGMA = 10.0  # the Gaussian kernel's bandwidth in "Rethinking FID" (Jayasumana et al. 2024)
CMMD_SCALE = 1000.0  # the paper prints MMD^2 x 1000


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm, in float64 (a zero row is an error: it has no direction)."""
    x = np.asarray(x, np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("an embedding is all zeros: it cannot be L2-normalised")
    return x / norms


def _mean_gaussian_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> float:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return float(np.exp(-gamma * np.maximum(sq, 0.0)).mean())


def gaussian_mmd2_biased(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """Biased MMD^2 estimate (Gretton et al. 2012, eq. 5) with k(a, b) = exp(-|a - b|^2 / (2 sigma^2)): the means of
    k over all pairs of x, all pairs of y (diagonals included) and all cross pairs, as mean_xx + mean_yy - 2 mean_xy.
    Float64; O(n^2) memory in the set sizes."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected two [N, d] sets of one width, got {list(x.shape)} and {list(y.shape)}")
    if len(x) == 0 or len(y) == 0:
        raise ValueError("MMD needs at least one sample in each set")
    gamma = 1.0 / (2.0 * sigma * sigma)
    return (_mean_gaussian_kernel(x, x, gamma) + _mean_gaussian_kernel(y, y, gamma)
            - 2.0 * _mean_gaussian_kernel(x, y, gamma))


def cmmd(generated: np.ndarray, reference: np.ndarray, sigma: float = CMMD_SIGMA, scale: float = CMMD_SCALE) -> float:
    """CMMD: `scale` x the biased Gaussian-kernel MMD^2 between the L2-normalised embeddings of two sets."""
    return scale * gaussian_mmd2_biased(l2_normalise(generated), l2_normalise(reference), sigma)


def inside_balls(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """For each point, whether it lies in at least one closed ball (centre_j, radius_j): the k-NN manifold test of
    Kynkäänniemi et al. 2019, as booleans [len(points)]."""
    p, c = np.asarray(points, np.float64), np.asarray(centres, np.float64)
    sq = (p * p).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2.0 * p @ c.T
    return (np.sqrt(np.maximum(sq, 0.0)) <= np.asarray(radii, np.float64)[None, :]).any(axis=1)


def precision_recall_members(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(fake_in_real [n_fake], real_in_fake [n_real]): per-sample membership whose means are improved precision and
    recall (`functional.precision_recall`), with each set's k-NN radii from `functional.knn_radii`."""
    n = min(len(real), len(fake))
    if n <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples in each set, have {n}")
    fake_in_real = inside_balls(fake, real, metric_fn.knn_radii(real, k))
    real_in_fake = inside_balls(real, fake, metric_fn.knn_radii(fake, k))
    return fake_in_real, real_in_fake
