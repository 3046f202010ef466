"""FID with a pluggable feature extractor and reference statistics that carry their own identity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.base import MetricValue, check_images
from ddmd_bench.metrics.states import FeatureMoments, IndexedRows


class FeatureExtractor(Protocol):
    """uint8 images -> features [B, d]; `id` names the network, weights and preprocessing."""

    id: str
    dim: int
    weights_sha256: str
    preprocessing: str

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Features of a batch of uint8 images."""


@dataclass(frozen=True, slots=True)
class ReferenceStats:
    """Gaussian statistics of a reference image set, tied to the extractor that produced them."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    extractor_id: str
    set_id: str

    @property
    def sha256(self) -> str:
        """Hash of the statistics themselves (recorded in results)."""
        h = hashlib.sha256()
        for a in (self.mu, self.sigma):
            h.update(np.ascontiguousarray(a, np.float64).tobytes())
        h.update(f"{self.n}|{self.extractor_id}|{self.set_id}".encode())
        return h.hexdigest()


def reference_stats(extractor: FeatureExtractor, batches, set_id: str) -> ReferenceStats:
    """Stream `batches` of uint8 images through `extractor` into reference statistics."""
    stats = FeatureMoments(extractor.dim, sync_on_compute=False)  # each rank streams the whole set itself
    with torch.no_grad():
        for images in batches:
            stats.update(extractor(check_images(images)))
    n, mu, sigma = stats.compute()
    return ReferenceStats(mu, sigma, n, extractor.id, set_id)


class FID:
    """Fréchet distance between generated images and reference statistics, in the extractor's feature space."""

    kind = catalog.FID
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def __init__(self, extractor: FeatureExtractor, reference: ReferenceStats, bootstrap: int = 0,
                 sqrt_method: str = "cholesky") -> None:
        if reference.extractor_id != extractor.id:
            raise ValueError(f"reference statistics {reference.set_id!r} were made with extractor "
                             f"{reference.extractor_id!r}, but this FID uses {extractor.id!r}; remake them")
        if sqrt_method not in catalog.SQRT_METHODS:
            raise ValueError(f"unknown FID sqrt_method {sqrt_method!r}; use one of "
                             f"{', '.join(catalog.SQRT_METHODS.names())}")
        self.extractor, self.reference, self.bootstrap = extractor, reference, bootstrap
        self.sqrt_method = sqrt_method
        self.reset()

    def reset(self) -> None:
        """Forget all generated features."""
        self._moments = FeatureMoments(self.extractor.dim)  # torchmetrics state: summed over ranks
        self._features = IndexedRows(self.extractor.dim)  # raw features, kept only for the bootstrap CI
        self._chunk: list[torch.Tensor] = []  # this shard's raw features (bootstrap or not), for `state`

    @torch.no_grad()
    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Add features of a batch (prompts are not used by FID)."""
        features = self.extractor(check_images(images)).detach().cpu()
        self._chunk.append(features)
        self._add(features)

    def _add(self, features: torch.Tensor, start: int | None = None) -> None:
        self._moments.update(features)
        if self.bootstrap:
            self._features.extend(features, start)

    def state(self) -> dict[str, Any]:
        """This metric's contribution from the batches since `reset` (one shard): their raw features, so merging
        shards in order reproduces a single streamed pass exactly (a d x d moment matrix per shard would not scale)."""
        return {"features": torch.cat(self._chunk) if self._chunk else torch.zeros(0, self.extractor.dim)}

    def merge_state(self, state: dict[str, Any], start: int) -> None:
        """Add a shard's state; `start` is the index of its first sample in the prompt list."""
        if len(state["features"]):
            self._add(state["features"], start)

    def compute(self) -> MetricValue:
        """FID against the reference (float64, eigenvalues of the factored covariance product). Under torch.distributed
        this is a collective: torchmetrics sums the moments (and gathers bootstrap features) over ranks."""
        n, mu, sigma = self._moments.compute()
        features = self._features.compute()[1].numpy() if self.bootstrap else None
        value = metric_fn.frechet_distance(mu, sigma, self.reference.mu, self.reference.sigma, self.sqrt_method)
        if not self.bootstrap:
            return MetricValue(value=value, n=n, details={"reference_n": self.reference.n})
        std = metric_fn.bootstrap_fid_std(features, self.reference.mu, self.reference.sigma, self.bootstrap,
                                  method=self.sqrt_method)
        # Identical features (to float32 round-off, as batched kernels give for identical images): every resample is
        # the same set, so the bootstrap spread is round-off, and a near-zero-width interval would claim certainty.
        if np.allclose(features, features[:1], rtol=1e-5, atol=1e-6):
            return MetricValue(value=value, n=n, details={
                "reference_n": self.reference.n, "bootstrap_std": std,
                "ci_method": "undefined: every bootstrap resample of the generated set gives the same FID (the "
                             "generated features are identical), so the bootstrap says nothing about its spread"})
        return MetricValue(value=value, n=n, ci_low=value - 1.96 * std, ci_high=value + 1.96 * std,
                           details={"reference_n": self.reference.n, "bootstrap_std": std,
                                    "ci_method": f"normal bootstrap ({self.bootstrap} resamples of the generated "
                                                 "set, reference fixed)"})

    def spec(self) -> dict[str, Any]:
        """Identity of this FID: extractor, weights, preprocessing, reference set and the sqrt method."""
        return self.kind.spec(
            extractor=self.extractor.id, weights_sha256=self.extractor.weights_sha256,
            preprocessing=self.extractor.preprocessing,
            reference={"id": self.reference.set_id, "n": self.reference.n, "sha256": self.reference.sha256},
            sqrt_method=catalog.SQRT_METHODS.get(self.sqrt_method).description, covariance="unbiased (n-1)",
            image_format=catalog.FID_IMAGE_FORMAT, bootstrap=self.bootstrap)
