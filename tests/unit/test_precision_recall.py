"""Improved precision and recall as metric objects: per-sample manifold membership against a brute-force float64
transcription of Kynkäänniemi et al. (2019), agreement with `functional.precision_recall`, per-sample precision
aligned with the prompts, and k in the identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics import kernel_functional as kernel_fn
from ddmd_bench.metrics.feature_sets import features_reference
from ddmd_bench.metrics.precision_recall import ImprovedPrecision, ImprovedRecall


def _reference_members(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[list[bool], list[bool]]:
    """Point by point: a sample's radius is the distance to its k-th nearest other sample of its own set; a point is
    on a set's manifold when it lies within some sample's radius of that sample."""
    def radii(s):
        return [sorted(np.linalg.norm(s[i] - s[j]) for j in range(len(s)) if j != i)[k - 1] for i in range(len(s))]

    def inside(points, centres, r):
        return [any(np.linalg.norm(p - c) <= rc for c, rc in zip(centres, r)) for p in points]

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def _sets(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(50, 6)), rng.normal(size=(37, 6)) * 0.7 + 1.0  # partly overlapping clouds


@pytest.mark.parametrize("k", [1, 3, 5])
def test_membership_matches_the_brute_force_transcription_and_the_ablations_function(k):
    real, fake = _sets(k)
    in_real, in_fake = kernel_fn.precision_recall_members(real, fake, k)
    want_in_real, want_in_fake = _reference_members(real, fake, k)
    assert in_real.tolist() == want_in_real and in_fake.tolist() == want_in_fake
    assert 0 < in_real.mean() < 1 and 0 < in_fake.mean() < 1  # neither all nor nothing: the test can fail
    assert (in_real.mean(), in_fake.mean()) == pytest.approx(metric_fn.precision_recall(real, fake, k), abs=0)


def test_negative_control_k_changes_the_membership():
    real, fake = _sets(7)
    assert kernel_fn.precision_recall_members(real, fake, 1)[0].sum() < kernel_fn.precision_recall_members(
        real, fake, 5)[0].sum()  # larger balls hold more points


class _Identity:
    """Features = the first 6 pixel values / 255 (so tests choose the features through the images)."""

    id, dim, weights_sha256, preprocessing = "first-6-pixels", 6, "0" * 64, "none"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)[:, :6].double() / 255


def _images_with_features(features: np.ndarray) -> torch.Tensor:
    pixels = np.zeros((len(features), 3 * 4 * 4), np.uint8)
    pixels[:, :6] = np.clip(np.round(features * 255), 0, 255)
    return torch.from_numpy(pixels).reshape(-1, 3, 4, 4)


def test_the_metrics_score_the_extractors_features_with_intervals_and_aligned_per_sample_precision():
    rng = np.random.default_rng(3)
    real = rng.uniform(0.2, 0.6, size=(40, 6))
    images = _images_with_features(rng.uniform(0.3, 0.9, size=(30, 6)))
    extractor = _Identity()
    reference = features_reference(real, extractor.id, "uniform box")
    fake = extractor(images).numpy()
    want_precision, want_recall = metric_fn.precision_recall(real, fake, k=3)
    values = {}
    for cls in (ImprovedPrecision, ImprovedRecall):
        metric = cls(extractor, reference, k=3)
        for chunk in torch.tensor_split(images, 3):
            metric.update(chunk, [""] * len(chunk))
        values[cls.name] = metric.compute()
        spec = metric.spec()
        assert spec["k"] == 3 and spec["implementation"] == catalog.METRICS.get(cls.name).implementation
    precision, recall = values["precision"], values["recall"]
    assert precision.value == want_precision and recall.value == want_recall
    assert 0 < precision.value < 1 and 0 < recall.value < 1
    assert precision.per_sample == tuple(float(x) for x in kernel_fn.precision_recall_members(real, fake, 3)[0])
    assert recall.per_sample is None and precision.n == recall.n == 30
    for v in (precision, recall):
        assert v.ci_low <= v.value <= v.ci_high and v.ci_low < v.ci_high


def test_too_few_samples_for_k_is_an_error():
    extractor = _Identity()
    metric = ImprovedPrecision(extractor, features_reference(np.random.default_rng(0).uniform(size=(10, 6)),
                                                             extractor.id, "r"), k=3)
    metric.update(_images_with_features(np.full((3, 6), 0.5)), [""] * 3)
    with pytest.raises(ValueError, match="more than 3 samples"):
        metric.compute()
