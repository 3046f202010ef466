"""The metric contract: update(images, prompts) / compute() / reset(), plus a spec that states its identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A computed metric: value, optional confidence interval, sample count, per-sample scores and details."""

    value: float
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    per_sample: tuple[float | None, ...] | None = None  # aligned with the protocol's prompts (None: not scored)
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Metric(Protocol):
    """What the runner needs from a metric. `spec()` is part of the metric's identity (and of the protocol's)."""

    name: str
    version: str
    higher_is_better: bool

    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Consume a batch of uint8 images [B, 3, H, W] generated for `prompts`."""

    def compute(self) -> MetricValue:
        """The metric over everything seen since the last reset."""

    def reset(self) -> None:
        """Forget all state."""

    def spec(self) -> dict[str, Any]:
        """Implementation, weights sha256, preprocessing and settings: what must match for values to compare."""

    def state(self) -> dict[str, Any]:
        """What `update` added since the last reset, as tensors (one shard of a sharded, resumable run)."""

    def merge_state(self, state: dict[str, Any]) -> None:
        """Add a shard's state; merging every shard in order equals one pass over all batches."""


def check_images(images: torch.Tensor) -> torch.Tensor:
    """Validate the image contract (uint8, [B, 3, H, W]) with a specific error for each violation."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 in [0, 255] (round floats first, never truncate), got {images.dtype}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape [B, 3, H, W], got {list(images.shape)}")
    return images


class PerSampleScores:
    """State shared by metrics that keep one float per sample (CLIP score, ImageReward): reset, shard state, merge."""

    def reset(self) -> None:
        """Forget all scores."""
        self._scores: list[float] = []

    def state(self) -> dict[str, Any]:
        """Per-sample scores since `reset` (one shard)."""
        return {"scores": torch.tensor(self._scores, dtype=torch.float64)}

    def merge_state(self, state: dict[str, Any]) -> None:
        """Append a shard's scores (in shard order)."""
        self._scores.extend(state["scores"].tolist())
