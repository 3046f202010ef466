"""Golden values and reference parity for the pure metric math."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.metrics import functional as metric_fn


def _random_stats(rng, d=32, n=200):
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    return x.mean(0), np.cov(x, rowvar=False)


def test_frechet_of_diagonal_gaussians_matches_closed_form():
    # For diagonal covariances, tr sqrt(s1 s2) = sum sqrt(a_i b_i): FID = |dmu|^2 + sum (sqrt a - sqrt b)^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = 1.0 + 0.0 + 4.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert metric_fn.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_frechet_of_identical_statistics_is_zero():
    mu, sigma = _random_stats(np.random.default_rng(0))
    assert abs(metric_fn.frechet_distance(mu, sigma, mu, sigma)) < 1e-8


def test_frechet_matches_clean_fid_and_torchmetrics():
    from cleanfid.fid import frechet_distance as clean_fd
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(1)
    (mu1, s1), (mu2, s2) = _random_stats(rng), _random_stats(rng)
    ours = metric_fn.frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(clean_fd(mu1, s1, mu2, s2), rel=1e-6)
    tm = _compute_fid(torch.from_numpy(mu1), torch.from_numpy(s1), torch.from_numpy(mu2), torch.from_numpy(s2))
    assert ours == pytest.approx(float(tm), rel=1e-6)


def test_non_psd_input_is_an_error_not_a_silent_number():
    # scipy's sqrtm would return a complex matrix here, and clean-fid would silently drop its imaginary part.
    with pytest.raises(ValueError, match="negative eigenvalue"):
        metric_fn.trace_sqrt_product(np.eye(2), np.diag([1.0, -1.0]))


def test_mean_cov_from_moments_matches_numpy():
    x = np.random.default_rng(2).normal(size=(300, 8))
    mu, sigma = metric_fn.mean_cov(len(x), x.sum(0), x.T @ x)
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 samples"):
        metric_fn.mean_cov(1, x[0], np.outer(x[0], x[0]))


def test_cosine_golden_values():
    # CLIP-score parity with torchmetrics, through the metric, is in test_clip_presets.py.
    a = torch.tensor([[3.0, 4.0], [1.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[4.0, 3.0], [-2.0, 0.0], [0.0, 0.0]])
    out = metric_fn.cosine_similarity(a, b)
    assert out.dtype == torch.float64 and out.tolist() == pytest.approx([24 / 25, -1.0, 0.0])


def test_bootstrap_interval_contains_mean_and_is_seeded():
    v = np.random.default_rng(3).normal(size=500)
    a, b = metric_fn.bootstrap_mean(v, seed=4), metric_fn.bootstrap_mean(v, seed=4)
    assert a == b and a.low < a.value < a.high
    assert a.high - a.low == pytest.approx(2 * 1.96 / np.sqrt(500), rel=0.2)


def test_quantile_summary_golden():
    s = metric_fn.quantile_summary([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["median"] == 3.0 and s["iqr"] == 2.0 and s["p90"] == pytest.approx(4.6) and s["rounds"] == 5


def test_kid_matches_clean_fid_on_a_deterministic_subset():
    from cleanfid.fid import kernel_distance

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(60, 16)), rng.normal(loc=0.3, size=(60, 16))
    ours, std = metric_fn.kernel_inception_distance(a, b, subsets=1, subset_size=60)
    assert ours == pytest.approx(kernel_distance(a, b, num_subsets=1, max_subset_size=60), rel=1e-10)
    assert std == 0.0


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(6)
    same = metric_fn.kernel_inception_distance(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)), subsets=20,
                                       subset_size=200)
    shifted = metric_fn.kernel_inception_distance(rng.normal(size=(400, 8)), rng.normal(loc=0.5, size=(400, 8)),
                                          subsets=20, subset_size=200)
    assert abs(same[0]) < 3 * same[1] + 1e-3 and shifted[0] > 10 * shifted[1] > 0


def test_latency_measure_reports_rounds_and_stages():
    import itertools

    from ddmd_bench.metrics.latency import LatencyConfig, measure

    calls = itertools.count()
    out = measure(lambda: next(calls), LatencyConfig(warmup=2, rounds=4), torch.device("cpu"), "noop",
                  stages=lambda: {"a": 1.0, "b": 2.0})
    assert next(calls) == 2 + 4  # warm-up + rounds (the cold start is timed apart, on a new instance)
    assert out["rounds"] == 4 and out["timer"] == "perf_counter" and "cold_start" not in out
    assert out["stages_median"] == {"a": 1.0, "b": 2.0} and out["median"] <= out["p90"]


@pytest.mark.parametrize("n, n_boot", [(1, 37), (7, 2000), (300, 2000), (5000, 333)])
def test_bootstrap_mean_draws_exactly_the_one_matrix_resamples(n, n_boot):
    """Blocked resampling gives the interval of one (n_boot, n) index matrix drawn from the same seed (a wrong draw
    moves the bounds by far more than the tolerance)."""
    v = np.random.default_rng(5).normal(size=n)
    rng = np.random.default_rng(3)
    means = v[rng.integers(0, n, size=(n_boot, n))].mean(1)
    got = metric_fn.bootstrap_mean(v, n_boot=n_boot, seed=3)
    # the same draws; row means may differ in the last bit (SIMD summation depends on the buffer's alignment)
    np.testing.assert_allclose([got.low, got.high], np.quantile(means, [0.025, 0.975]), rtol=1e-12, atol=0)
