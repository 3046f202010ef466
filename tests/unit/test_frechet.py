"""The Fréchet distance's two square-root paths (Cholesky factor, exact eigh fallback) against clean-fid's own
`frechet_distance` (scipy sqrtm) on full-rank and rank-deficient statistics, and the bootstrap that reuses a factor."""

from __future__ import annotations

import numpy as np
import pytest
from cleanfid.fid import frechet_distance as clean_fid_frechet

from ddmd_bench.metrics import functional as metric_fn

D = 48


def _stats(rng, n: int, shift: float = 0.0):
    x = rng.normal(size=(n, D)) @ rng.normal(size=(D, D)) + shift
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_full_rank_uses_cholesky_and_matches_clean_fid(rng):
    (mu1, s1), (mu2, s2) = _stats(rng, 400), _stats(rng, 300, shift=0.3)
    assert metric_fn.factor_covariance(s1).method == "cholesky"
    ours = metric_fn.frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(clean_fid_frechet(mu1, s1, mu2, s2), rel=1e-6)
    assert ours == pytest.approx(metric_fn.frechet_distance(mu1, s1, mu2, s2, method="eigh"), rel=1e-10)


@pytest.mark.parametrize("n1, n2", [(30, 300), (300, 30), (30, 20)], ids=["sigma1-singular", "sigma2-singular",
                                                                           "both-singular"])
def test_rank_deficient_statistics_match_clean_fid(rng, n1, n2):
    # fewer samples than dimensions: the covariance has rank n - 1 < D
    (mu1, s1), (mu2, s2) = _stats(rng, n1), _stats(rng, n2, shift=0.3)
    if n1 < D:
        assert metric_fn.factor_covariance(s1).method == "eigh"
    ours = metric_fn.frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(clean_fid_frechet(mu1, s1, mu2, s2), rel=1e-6)
    assert ours == pytest.approx(metric_fn.frechet_distance(mu1, s1, mu2, s2, method="eigh"), rel=1e-7)


def test_cholesky_that_succeeds_on_a_numerically_singular_covariance_falls_back(rng):
    # one coordinate is a copy of another up to 1e-7 relative noise: Cholesky may succeed, but its last pivot explains
    # ~1e-14 of that coordinate's variance, which is round-off, so the exact path is taken.
    x = rng.normal(size=(500, D))
    x[:, -1] = x[:, 0] * (1 + 1e-7 * rng.normal(size=500))
    s1 = np.cov(x, rowvar=False)
    assert metric_fn.factor_covariance(s1).method == "eigh"
    mu2, s2 = _stats(rng, 400)
    ours = metric_fn.frechet_distance(x.mean(0), s1, mu2, s2)
    assert ours == pytest.approx(clean_fid_frechet(x.mean(0), s1, mu2, s2), rel=1e-6)


def test_forced_eigh_method_skips_cholesky(rng):
    _, s1 = _stats(rng, 400)
    assert metric_fn.factor_covariance(s1, method="eigh").method == "eigh"
    with pytest.raises(ValueError, match="unknown square-root method 'sqrtm'"):
        metric_fn.factor_covariance(s1, method="sqrtm")


def test_factor_reproduces_the_covariance(rng):
    for n in (400, 30):
        _, s = _stats(rng, n)
        f = metric_fn.factor_covariance(s)
        np.testing.assert_allclose(f.a @ f.a.T, s, rtol=0, atol=1e-9 * np.abs(s).max())


@pytest.mark.parametrize("n_ref", [400, 30], ids=["reference-full-rank", "reference-singular"])
def test_bootstrap_with_a_factored_reference_matches_recomputing_each_resample(rng, n_ref):
    mu_ref, s_ref = _stats(rng, n_ref)
    features = rng.normal(size=(120, D)) @ rng.normal(size=(D, D))
    fast = metric_fn.bootstrap_fid_std(features, mu_ref, s_ref, n_boot=8, seed=3)
    exact = metric_fn.bootstrap_fid_std(features, mu_ref, s_ref, n_boot=8, seed=3, method="eigh")
    assert fast == pytest.approx(exact, rel=1e-7)
    # the same resamples scored one by one with clean-fid give the same spread
    draw = np.random.default_rng(3)
    values = []
    for _ in range(8):
        f = features[draw.integers(0, len(features), size=len(features))]
        values.append(clean_fid_frechet(f.mean(0), np.cov(f, rowvar=False), mu_ref, s_ref))
    assert fast == pytest.approx(float(np.std(values, ddof=1)), rel=1e-5)
