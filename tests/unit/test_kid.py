"""KID as a metric object: its value is `functional.kernel_inception_distance` on the extractor's features, the
formula matches an independent float64 transcription of the unbiased polynomial-kernel MMD^2, and the subset scheme
is part of its identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.feature_sets import features_reference
from ddmd_bench.metrics.kid import KID
from tests.factories import random_images

DIM = 5


class _Linear:
    id, dim, weights_sha256, preprocessing = "test-linear-5", DIM, "0" * 64, "none"

    def __init__(self) -> None:
        self.w = torch.randn(3 * 8 * 8, DIM, generator=torch.Generator().manual_seed(0)) / 8

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1).float() / 255 @ self.w


def _reference_kid(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, pair by pair in float64 (Binkowski et al. 2018, eq. 4)."""
    d = x.shape[1]

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_one_subset_of_every_sample_is_the_unbiased_estimator():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 7)), rng.normal(size=(30, 7)) * 1.2 + 0.3
    # one subset of all samples: the draw is a permutation, and the estimator does not depend on the order
    mean, std = metric_fn.kernel_inception_distance(x, y, subsets=1, subset_size=30)
    assert mean == pytest.approx(_reference_kid(x, y), rel=1e-10) and std == 0.0
    assert abs(mean - _reference_kid(x, x[::-1])) > 1e-3 * abs(mean)  # negative control: the sets matter


def test_the_metric_is_the_function_on_its_features_with_its_subset_scheme():
    extractor = _Linear()
    reference = features_reference(extractor(random_images(40, 8, seed=9)) * 1.5, extractor.id, "scaled noise")
    images = random_images(30, 8, seed=2)
    metric = KID(extractor, reference, subsets=20, subset_size=16, seed=4)
    for chunk in torch.tensor_split(images, 4):
        metric.update(chunk, [""] * len(chunk))
    value = metric.compute()
    mean, std = metric_fn.kernel_inception_distance(extractor(images).double().numpy(), reference.features, 20, 16, 4)
    # features were extracted per batch (float32 kernels chosen by batch shape): round-off only
    assert value.value == pytest.approx(mean, rel=1e-6) and value.details["subset_std"] == pytest.approx(std, rel=1e-5)
    assert value.n == 30 and value.details["subset_size_used"] == 16 and value.ci_low is None
    spec = metric.spec()
    assert (spec["subsets"], spec["subset_size"], spec["seed"], spec["kernel"]) == (20, 16, 4, catalog.KID_KERNEL)
    assert spec["implementation"] == catalog.KID.implementation
    other = KID(extractor, reference, subsets=20, subset_size=8, seed=4)
    other.update(images, [""] * 30)
    assert other.compute().value != value.value and other.spec() != spec  # the scheme changes value and identity


@pytest.mark.filterwarnings("ignore:The ``compute`` method of metric IndexedRows was called before")
def test_kid_refuses_a_degenerate_scheme_and_an_empty_set():
    extractor = _Linear()
    reference = features_reference(torch.randn(10, DIM), extractor.id, "r")
    with pytest.raises(ValueError, match="at least one subset"):
        KID(extractor, reference, subset_size=1)
    with pytest.raises(ValueError, match="no generated images"):
        KID(extractor, reference).compute()
