"""Improved precision and recall (Kynkäänniemi et al. 2019) as metric objects on any feature space.

Precision is the fraction of generated samples inside the reference set's k-NN manifold (the union of balls reaching
each reference sample's k-th nearest neighbour); recall is the fraction of reference samples inside the generated
set's manifold. Precision is per generated sample, so it has per-sample scores (1 inside, 0 outside, aligned with the
prompts) and a bootstrap interval over them; recall is per reference sample, so its interval resamples the reference
set and it has no per-prompt scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics import kernel_functional as kernel_fn
from ddmd_bench.metrics.base import MetricValue
from ddmd_bench.metrics.feature_sets import FeatureSet, ReferenceFeatures
from ddmd_bench.metrics.fid import FeatureExtractor


class _ManifoldMetric(FeatureSet):
    kind: catalog.MetricKind

    def __init__(self, extractor: FeatureExtractor, reference: ReferenceFeatures, k: int = 3) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k
        super().__init__(extractor, reference)

    def _members(self) -> tuple[np.ndarray, np.ndarray]:
        """(generated samples on the reference manifold, reference samples on the generated manifold) as 0/1."""
        members = kernel_fn.precision_recall_members(self.reference.features, self._generated(), self.k)
        return members[0].astype(np.float64), members[1].astype(np.float64)

    def spec(self) -> dict[str, Any]:
        """Extractor, reference set and the neighbourhood size."""
        return self.kind.spec(**self._identity(), k=self.k, distance="euclidean",
                              manifold="union of k-NN balls (Kynkäänniemi et al. 2019)")


class ImprovedPrecision(_ManifoldMetric):
    """Fraction of generated samples on the reference manifold (higher is better)."""

    kind = catalog.PRECISION
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def compute(self) -> MetricValue:
        """Precision with a percentile-bootstrap CI over generated samples (reference manifold fixed)."""
        inside = self._members()[0]
        ci = metric_fn.bootstrap_mean(inside)
        return MetricValue(value=ci.value, n=len(inside), ci_low=ci.low, ci_high=ci.high,
                           per_sample=tuple(inside.tolist()),
                           details={"reference_n": self.reference.n,
                                    "ci_method": "percentile bootstrap over generated samples, reference fixed"})


class ImprovedRecall(_ManifoldMetric):
    """Fraction of reference samples on the generated manifold (higher is better)."""

    kind = catalog.RECALL
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def compute(self) -> MetricValue:
        """Recall with a percentile-bootstrap CI over reference samples (generated manifold fixed)."""
        inside, covered = self._members()
        ci = metric_fn.bootstrap_mean(covered)
        return MetricValue(value=ci.value, n=len(inside), ci_low=ci.low, ci_high=ci.high,
                           details={"reference_n": self.reference.n,
                                    "ci_method": "percentile bootstrap over reference samples, generated set fixed"})
