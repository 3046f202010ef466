"""FID and KID against torchmetrics' own metric classes, fed the same features through a custom extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.fid import FID, reference_stats


class TinyExtractor(torch.nn.Module):
    """uint8 images -> 12 non-Gaussian features (fixed random projection of 4x4-pooled pixels, then tanh).

    One object serves both sides: our FeatureExtractor protocol (id, dim, ...) and torchmetrics' custom `feature`
    module (`num_features`, forward on the images it is given)."""

    id = "tiny-random-projection"
    dim = num_features = 12
    weights_sha256 = "0" * 64
    preprocessing = "avg-pool to 4x4, x / 255 - 0.5"

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("proj", torch.randn(3 * 4 * 4, self.dim, generator=torch.Generator().manual_seed(0)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.adaptive_avg_pool2d(images.double() / 255, 4).flatten(1)
        return torch.tanh((x - 0.5) @ self.proj.double())


def _images(n: int, seed: int, bright: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256 - bright, (n, 3, 16, 16), generator=g).add(bright).to(torch.uint8)


def _batches(images: torch.Tensor, size: int = 25):
    return [images[i:i + size] for i in range(0, len(images), size)]


def test_fid_metric_equals_torchmetrics_frechet_inception_distance():
    extractor = TinyExtractor()
    real, fake = _images(120, 0, 0), _images(90, 1, 40)
    ours = FID(extractor, reference_stats(extractor, _batches(real), "tiny-real"))
    for batch in _batches(fake):
        ours.update(batch, [""] * len(batch))
    value = ours.compute()

    tm = FrechetInceptionDistance(feature=extractor)
    for batch in _batches(real):
        tm.update(batch, real=True)
    for batch in _batches(fake):
        tm.update(batch, real=False)
    reference = float(tm.compute())
    assert reference > 0.01  # the two sets differ, so the comparison is not 0 == 0
    assert value.value == pytest.approx(reference, rel=1e-6) and value.n == 90


def test_fid_of_identical_sets_is_zero_in_both():
    extractor = TinyExtractor()
    images = _images(60, 2, 0)
    ours = FID(extractor, reference_stats(extractor, _batches(images), "same"))
    ours.update(images, [""] * 60)
    tm = FrechetInceptionDistance(feature=extractor)
    tm.update(images, real=True)
    tm.update(images, real=False)
    assert abs(ours.compute().value) < 1e-8 and abs(float(tm.compute())) < 1e-6


def _features(n: int, seed: int, shift: float) -> np.ndarray:
    return TinyExtractor()(_images(n, seed, int(shift))).numpy()


def _torchmetrics_kid(x: np.ndarray, y: np.ndarray) -> float:
    """torchmetrics' KID of one subset: with subset_size = n its random permutation selects every row, and the
    unbiased MMD^2 does not depend on row order."""
    kid = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=1, subset_size=len(x))
    kid.update(torch.from_numpy(x), real=True)
    kid.update(torch.from_numpy(y), real=False)
    return float(kid.compute()[0])


def test_kid_over_several_subsets_equals_torchmetrics_on_each_subset():
    real, fake = _features(80, 3, 0), _features(70, 4, 30)
    subsets, size, seed = 5, 40, 7
    mean, std = metric_fn.kernel_inception_distance(real, fake, subsets=subsets, subset_size=size, seed=seed)
    # The subsets our function draws (documented order: real rows, then fake rows, per subset).
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        values.append(_torchmetrics_kid(x, y))
    assert len(set(values)) == subsets  # the subsets differ, so mean and spread are exercised
    assert mean == pytest.approx(np.mean(values), rel=1e-9)
    # torchmetrics and torch-fidelity report the population std (ddof 0); ours is the sample std (ddof 1).
    assert std == pytest.approx(np.std(values, ddof=1), rel=1e-9)


def test_kid_on_the_whole_sets_equals_torchmetrics_with_its_own_sampling():
    real, fake = _features(50, 5, 0), _features(50, 6, 30)
    tm = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=4, subset_size=50)
    tm.update(torch.from_numpy(real), real=True)
    tm.update(torch.from_numpy(fake), real=False)
    tm_mean, tm_std = (float(v) for v in tm.compute())
    mean, std = metric_fn.kernel_inception_distance(real, fake, subsets=4, subset_size=50)
    assert tm_mean > 1e-4 and mean == pytest.approx(tm_mean, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12) and tm_std == pytest.approx(0.0, abs=1e-12)
