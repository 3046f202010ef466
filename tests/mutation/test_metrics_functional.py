"""The metric math of `metrics/functional.py` against independent references written out here (scipy's sqrtm,
brute-force distances, the bootstrap and KID loops replayed with the same random streams), with the edge cases
where a changed comparison or constant would show."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist

from ddmd_bench.metrics import functional as F


def _reference_fid(mu1, s1, mu2, s2) -> float:
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(root).real)


def _stats(seed: int, d: int = 5, n: int = 40):
    x = np.random.default_rng(seed).normal(size=(n, d)) @ np.random.default_rng(seed + 100).normal(size=(d, d))
    return x, x.mean(0), np.cov(x, rowvar=False)


def test_mean_cov_needs_two_samples_and_accepts_exactly_two():
    with pytest.raises(ValueError, match="^need at least 2 samples for a covariance, have 1$"):
        F.mean_cov(1, np.ones(2), np.ones((2, 2)))
    x = np.array([[1.0, 2.0], [3.0, 7.0]])
    mu, sigma = F.mean_cov(2, x.sum(0), x.T @ x)
    np.testing.assert_allclose(mu, [2.0, 4.5])
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False))


def test_mean_cov_is_float64_from_integer_moments():
    x = np.array([[1, 2], [3, 7], [4, 4]], dtype=np.int64)
    mu, sigma = F.mean_cov(3, x.sum(0), x.T @ x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(sigma, np.cov(x.astype(float), rowvar=False), rtol=1e-12)


@pytest.mark.parametrize("method", ["cholesky", "eigh"])
def test_trace_sqrt_product_matches_scipy_sqrtm(method):
    _, _, s1 = _stats(0)
    _, _, s2 = _stats(1)
    expected = float(np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)
    assert F.trace_sqrt_product(s1, s2, method=method) == pytest.approx(expected, rel=1e-9)


def test_cholesky_factor_is_lower_triangular_and_eigh_factor_symmetric():
    _, _, s = _stats(2)
    chol = F.factor_covariance(s)
    assert chol.method == "cholesky"
    np.testing.assert_allclose(chol.a, np.tril(chol.a))
    np.testing.assert_allclose(chol.a @ chol.a.T, s, rtol=1e-10, atol=1e-12)
    root = F.factor_covariance(s, "eigh")
    assert root.method == "eigh"
    np.testing.assert_allclose(root.a, root.a.T, atol=1e-12)
    np.testing.assert_allclose(root.a @ root.a, s, rtol=1e-10, atol=1e-12)


def test_unknown_square_root_method_is_named():
    with pytest.raises(ValueError, match="^unknown square-root method 'sqrtm'; use one of cholesky, eigh$"):
        F.factor_covariance(np.eye(2), "sqrtm")


def test_singular_covariance_falls_back_to_the_exact_root():
    # rank 1: Cholesky fails outright
    singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    f = F.factor_covariance(singular)
    assert f.method == "eigh"
    np.testing.assert_allclose(f.a @ f.a, singular, atol=1e-12)
    # positive definite only by round-off: the last pivot carries ~1e-13 of its variance
    nearly = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-13]])
    assert F.factor_covariance(nearly).method == "eigh"
    # a well-conditioned one keeps Cholesky, even with one small but real pivot
    assert F.factor_covariance(np.array([[1.0, 1.0], [1.0, 1.0 + 1e-6]])).method == "cholesky"


def test_exact_root_clips_round_off_negative_eigenvalues_and_symmetrises():
    # eigenvalues 4 and -1e-14: the root keeps sqrt(4) along the first eigenvector and 0 along the second
    a = np.diag([4.0, -1e-14])
    root = F.factor_covariance(a, "eigh").a
    np.testing.assert_allclose(root, np.diag([2.0, 0.0]), atol=1e-12)
    # an asymmetric input is read as its symmetric part
    skew = np.array([[2.0, 1.0], [0.0, 2.0]])
    sym = (skew + skew.T) / 2
    root = F.factor_covariance(skew, "eigh").a
    np.testing.assert_allclose(root @ root, sym, atol=1e-12)


def test_cholesky_reads_the_symmetric_part_of_an_asymmetric_input():
    skew = np.array([[4.0, 2.0], [0.0, 3.0]])
    lower = F.factor_covariance(skew).a
    np.testing.assert_allclose(lower @ lower.T, (skew + skew.T) / 2, atol=1e-12)


def test_product_eigenvalues_are_symmetrised():
    # sigma2 is asymmetric; only its symmetric part is a covariance
    s2 = np.array([[2.0, 1.5], [0.5, 3.0]])
    expected = float(np.trace(scipy.linalg.sqrtm((s2 + s2.T) / 2)).real)
    assert F.trace_sqrt_product(np.eye(2), s2) == pytest.approx(expected, rel=1e-12)


def test_negative_eigenvalue_tolerance_is_relative_to_the_largest():
    # within rtol of the scale: round-off, clipped to 0
    assert F.trace_sqrt_product(np.eye(2), np.diag([1.0, -1e-7])) == pytest.approx(1.0, rel=1e-12)
    assert F.trace_sqrt_product(np.eye(2), np.diag([4.0, -1e-7]), rtol=1e-6) == pytest.approx(2.0, rel=1e-12)
    # beyond it: an error that says so
    with pytest.raises(ValueError, match=r"^covariance product has a negative eigenvalue -1\.000e-05 \(scale "
                                         r"1\.000e\+00\): inputs are not positive semi-definite$"):
        F.trace_sqrt_product(np.eye(2), np.diag([1.0, -1e-5]))
    # a small scale gives a small tolerance
    with pytest.raises(ValueError, match="negative eigenvalue"):
        F.trace_sqrt_product(np.eye(2), np.diag([1e-3, -1e-6]))
    with pytest.raises(ValueError, match="negative eigenvalue"):
        F.trace_sqrt_product(np.eye(2), np.diag([0.0, -0.5]))
    # the rtol argument is used
    assert F.trace_sqrt_product(np.eye(2), np.diag([1.0, -1e-5]), rtol=1e-4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="negative eigenvalue"):
        F.trace_sqrt_product(np.eye(2), np.diag([1.0, -1e-5]), rtol=1e-6, method="eigh")
    # the default is 1e-6: -5e-7 of the scale passes, -2e-6 does not
    assert F.factor_covariance(np.eye(2)).trace_sqrt_product(np.diag([1.0, -5e-7])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        F.factor_covariance(np.eye(2)).trace_sqrt_product(np.diag([1.0, -2e-6]))


def test_zero_covariances_give_zero_trace():
    assert F.trace_sqrt_product(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert F.trace_sqrt_product(np.eye(3), np.zeros((3, 3))) == 0.0


@pytest.mark.parametrize("method", ["cholesky", "eigh"])
def test_frechet_distance_matches_the_textbook_formula(method):
    _, mu1, s1 = _stats(3)
    _, mu2, s2 = _stats(4)
    assert F.frechet_distance(mu1, s1, mu2, s2, method) == pytest.approx(_reference_fid(mu1, s1, mu2, s2), rel=1e-9)
    assert F.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_reference_fid(mu1, s1, mu2, s2), rel=1e-9)


def test_frechet_distance_golden_with_shifted_means():
    # diagonal covariances: |dmu|^2 + sum (sqrt a - sqrt b)^2 = (1 + 4) + (1 + 0 + 1) = 7
    value = F.frechet_distance(np.array([0.0, 0.0, 1.0]), np.diag([1.0, 4.0, 9.0]),
                               np.array([1.0, 2.0, 1.0]), np.diag([4.0, 4.0, 16.0]))
    assert value == pytest.approx(7.0, rel=1e-12)


def test_frechet_refuses_statistics_of_different_shapes():
    msg = r"^statistics disagree in shape: means \(2,\) vs \(3,\), covariances \(2, 2\) vs \(2, 2\)$"
    with pytest.raises(ValueError, match=msg):
        F.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match=r"covariances \(2, 2\) vs \(3, 3\)"):
        F.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))


@pytest.mark.parametrize("method", ["cholesky", "eigh"])
def test_bootstrap_fid_std_replays_the_resamples(method):
    feats, _, _ = _stats(5, n=30)
    _, mu_ref, s_ref = _stats(6)
    rng = np.random.default_rng(7)
    values = []
    for _ in range(6):
        f = feats[rng.integers(0, len(feats), size=len(feats))]
        values.append(_reference_fid(f.mean(0), np.cov(f, rowvar=False), mu_ref, s_ref))
    expected = float(np.std(values, ddof=1))
    assert F.bootstrap_fid_std(feats, mu_ref, s_ref, 6, seed=7, method=method) == pytest.approx(expected, rel=1e-7)


def test_bootstrap_fid_std_default_seed_is_zero_and_default_method_cholesky():
    feats, _, _ = _stats(8, n=25)
    _, mu_ref, s_ref = _stats(9)
    default = F.bootstrap_fid_std(feats, mu_ref, s_ref, 4)
    assert default == F.bootstrap_fid_std(feats, mu_ref, s_ref, 4, seed=0, method="cholesky")
    assert default != F.bootstrap_fid_std(feats, mu_ref, s_ref, 4, seed=1)


def _reference_kid(f1, f2, subsets, m, seed):
    d = f1.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
        kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
        mmd = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
               - 2 * kxy.sum() / (m * m))
        values.append(mmd)
    return float(np.mean(values)), float(np.std(values, ddof=1))


def test_kid_replays_the_subsets():
    rng = np.random.default_rng(10)
    f1, f2 = rng.normal(size=(12, 3)), rng.normal(0.5, 1.0, size=(9, 3)).astype(np.float32)
    mean, std = F.kernel_inception_distance(f1, f2, subsets=5, subset_size=6, seed=3)
    ref_mean, ref_std = _reference_kid(f1, f2.astype(np.float64), 5, 6, 3)
    assert mean == pytest.approx(ref_mean, rel=1e-10)
    assert std == pytest.approx(ref_std, rel=1e-10)


def test_kid_subset_size_is_capped_by_the_smaller_set_and_defaults_apply():
    rng = np.random.default_rng(11)
    f1, f2 = rng.normal(size=(7, 4)), rng.normal(size=(5, 4))
    # default subset_size (1000) is capped at min(7, 5) = 5; default subsets 100, seed 0
    assert F.kernel_inception_distance(f1, f2) == pytest.approx(_reference_kid(f1, f2, 100, 5, 0), rel=1e-10)


def test_kid_default_subset_size_is_a_thousand():
    rng = np.random.default_rng(12)
    f1, f2 = rng.normal(size=(1001, 2)), rng.normal(size=(1001, 2))
    assert F.kernel_inception_distance(f1, f2, subsets=2) == pytest.approx(_reference_kid(f1, f2, 2, 1000, 0),
                                                                         rel=1e-9)


def test_kid_needs_two_samples_and_one_subset_has_zero_spread():
    rng = np.random.default_rng(13)
    with pytest.raises(ValueError, match="^KID needs at least 2 samples per set, have 1$"):
        F.kernel_inception_distance(rng.normal(size=(1, 3)), rng.normal(size=(4, 3)))
    f1, f2 = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    mean, std = F.kernel_inception_distance(f1, f2, subsets=1)
    assert std == 0.0 and mean == pytest.approx(_reference_kid(f1, f2, 2, 2, 0)[0], rel=1e-10)


def test_cosine_similarity_golden_in_float64():
    # binary fractions: the inputs are exact in float32, the float64 results are the exact ratios; the norms'
    # product is below 1, so only the 1e-12 guard of an all-zero row ever applies
    a = torch.tensor([[0.375, 0.5], [0.125, 0.0], [0.25, 0.0]], dtype=torch.float32)
    b = torch.tensor([[0.5, 0.375], [-0.25, 0.0], [0.0, 0.0]], dtype=torch.float32)
    out = F.cosine_similarity(a, b)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, torch.tensor([0.375 / 0.390625, -1.0, 0.0], dtype=torch.float64), rtol=1e-15,
                               atol=0.0)


def test_bootstrap_mean_replays_the_resamples_with_defaults():
    v = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    rng = np.random.default_rng(0)
    means = v[rng.integers(0, 5, size=(2000, 5))].mean(1)
    got = F.bootstrap_mean(v)
    assert got == F.Interval(4.0, float(np.quantile(means, 0.025)),
                             float(np.quantile(means, 0.975)))
    rng = np.random.default_rng(4)
    means = v[rng.integers(0, 5, size=(50, 5))].mean(1)
    got = F.bootstrap_mean(list(v), n_boot=50, level=0.8, seed=4)
    assert got == F.Interval(4.0, float(np.quantile(means, (1 - 0.8) / 2)),
                             float(np.quantile(means, 1 - (1 - 0.8) / 2)))


def test_bootstrap_mean_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="^cannot bootstrap an empty set of values$"):
        F.bootstrap_mean(np.array([]))


def test_quantile_summary_golden():
    s = F.quantile_summary([4.0, 1.0, 3.0, 2.0, 10.0])
    assert s == pytest.approx({"median": 3.0, "p90": 7.6, "iqr": 2.0, "mean": 4.0, "min": 1.0, "rounds": 5},
                              rel=1e-12)
    assert isinstance(s["rounds"], int)
    with pytest.raises(ValueError, match="^no timing samples$"):
        F.quantile_summary([])


def test_knn_radii_and_pairwise_against_brute_force():
    x = np.random.default_rng(14).normal(scale=0.2, size=(9, 3))
    for k in (1, 3):
        expected = np.sort(cdist(x, x), axis=1)[:, k]
        np.testing.assert_allclose(F.knn_radii(x, k), expected, rtol=1e-10, atol=1e-12)


def test_pairwise_distance_of_a_point_to_itself_is_zero_not_nan():
    x = np.array([[0.1, 0.7, 0.3]] * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(F.knn_radii(x, 1), [0.0, 0.0])


def _reference_pr(real, fake, k):
    real_r = np.sort(cdist(real, real), axis=1)[:, k]
    fake_r = np.sort(cdist(fake, fake), axis=1)[:, k]
    d = cdist(fake, real)
    return float((d <= real_r[None, :] + 1e-12).any(1).mean()), float((d.T <= fake_r[None, :] + 1e-12).any(1).mean())


def test_precision_recall_against_brute_force_and_default_k():
    rng = np.random.default_rng(15)
    real, fake = rng.normal(size=(20, 2)), rng.normal(0.8, 0.6, size=(15, 2))
    assert F.precision_recall(real, fake, k=2) == _reference_pr(real, fake, 2)
    assert F.precision_recall(real, fake) == _reference_pr(real, fake, 3)
    assert F.precision_recall(real, fake) != F.precision_recall(real, fake, k=4)


def test_precision_recall_counts_a_sample_on_the_ball_boundary_as_inside():
    # real points on a line at 0, 1, 3: with k=1 their radii are 1, 1, 2. The fake at 5 lies exactly on the
    # boundary of the ball around 3; the fake at 10 is outside every ball.
    real = np.array([[0.0], [1.0], [3.0]])
    fake = np.array([[5.0], [10.0], [20.0]])
    precision, recall = F.precision_recall(real, fake, k=1)
    assert precision == pytest.approx(1 / 3)
    # fake radii: 5 -> 5, 10 -> 5, 20 -> 10; real 0, 1, 3 are within 5 of the fake at 5 only for 1 and 3 (|5-1|=4,
    # |5-3|=2) and 0 is exactly 5 away: on the boundary, inside
    assert recall == 1.0


def test_distances_and_quantiles_of_float32_inputs_are_computed_in_float64():
    # float32 features far from the origin: their squared norms lose every small difference in float32
    x = (1000.0 + np.random.default_rng(16).normal(scale=0.01, size=(8, 3))).astype(np.float32)
    y = (1000.0 + np.random.default_rng(17).normal(scale=0.01, size=(6, 3))).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    np.testing.assert_allclose(F.knn_radii(x, 2), np.sort(cdist(x64, x64), axis=1)[:, 2], rtol=1e-6)
    assert F.precision_recall(x, y, k=2) == F.precision_recall(x64, y64, k=2)
    np.testing.assert_allclose(F._pairwise(x, y), cdist(x64, y64), rtol=1e-6)
    np.testing.assert_allclose(F._pairwise(y, x), cdist(y64, x64), rtol=1e-6)
    samples = np.array([0.1, 0.7, 0.3, 0.9], dtype=np.float32)
    assert F.quantile_summary(samples) == F.quantile_summary(samples.astype(np.float64).tolist())


def test_trace_sqrt_product_uses_the_requested_square_root_bit_for_bit():
    # the two methods agree to round-off only; a record measured with "eigh" is reproduced exactly by "eigh"
    rng = np.random.default_rng(0)
    s1, s2 = np.cov(rng.normal(size=(40, 5)), rowvar=False), np.cov(rng.normal(size=(40, 5)), rowvar=False)
    eigh = F.factor_covariance(s1, "eigh").trace_sqrt_product(s2)
    cholesky = F.factor_covariance(s1, "cholesky").trace_sqrt_product(s2)
    assert eigh != cholesky  # these matrices tell the two apart in the last bits
    assert F.trace_sqrt_product(s1, s2, method="eigh") == eigh
    assert F.trace_sqrt_product(s1, s2) == cholesky
