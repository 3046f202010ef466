"""KID (Binkowski et al. 2018) as a metric object on any feature space: the unbiased polynomial-kernel MMD^2 of
`functional.kernel_inception_distance`, averaged over seeded random subsets of the generated and reference sets."""

from __future__ import annotations

from typing import Any

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.base import MetricValue
from ddmd_bench.metrics.feature_sets import FeatureSet, ReferenceFeatures
from ddmd_bench.metrics.fid import FeatureExtractor


class KID(FeatureSet):
    """Kernel Inception Distance (lower is better) in the extractor's feature space; the subset count, size and
    seed are part of its identity (they change the number)."""

    kind = catalog.KID
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def __init__(self, extractor: FeatureExtractor, reference: ReferenceFeatures, subsets: int = 100,
                 subset_size: int = 1000, seed: int = 0) -> None:
        if subsets < 1 or subset_size < 2:
            raise ValueError(f"KID needs at least one subset of at least 2 samples (got {subsets} x {subset_size})")
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        super().__init__(extractor, reference)

    def compute(self) -> MetricValue:
        """Mean KID over subsets; their standard deviation (the '±' papers print) is in the details, not an
        interval: it is the spread of subset estimates, not a confidence interval of the mean."""
        generated = self._generated()
        mean, std = metric_fn.kernel_inception_distance(generated, self.reference.features, self.subsets,
                                                        self.subset_size, self.seed)
        used = min(len(generated), self.reference.n, self.subset_size)
        return MetricValue(value=mean, n=len(generated),
                           details={"reference_n": self.reference.n, "subset_std": std, "subset_size_used": used})

    def spec(self) -> dict[str, Any]:
        """Extractor, reference set, kernel and subset scheme."""
        return self.kind.spec(**self._identity(), kernel=catalog.KID_KERNEL, estimator="unbiased MMD^2",
                              subsets=self.subsets, subset_size=self.subset_size, seed=self.seed)
