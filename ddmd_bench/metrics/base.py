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
    """What the runner needs from a metric. `spec()` is part of the metric's identity (and of the protocol's); the
    direction, version and implementation id come from the metric's kind in `metrics.catalog`, which also assembles
    the specs protocols declare for it."""

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

    def merge_state(self, state: dict[str, Any], start: int) -> None:
        """Add a shard's state (its first sample is prompt `start`); merging every shard, in any order and on any
        rank, equals one pass over all batches. State lives in torchmetrics `Metric`s (`metrics/states.py`), so
        `compute()` reduces it over ranks under torch.distributed (a collective: every rank calls it)."""


def check_images(images: torch.Tensor) -> torch.Tensor:
    """Validate the image contract (uint8, [B, 3, H, W]) with a specific error for each violation."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 in [0, 255] (round floats first, never truncate), got {images.dtype}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape [B, 3, H, W], got {list(images.shape)}")
    return images


def check_image_prompt_pairs(images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
    """`check_images`, plus one prompt per image (the metrics that score an image against its prompt)."""
    images = check_images(images)
    if len(prompts) != images.shape[0]:
        raise ValueError(f"got {images.shape[0]} images but {len(prompts)} prompts")
    return images


class PerSampleScores:
    """State shared by metrics that keep one float per sample (CLIP score, ImageReward): a torchmetrics state of
    (index, score) rows, so shards merged in any order, or gathered from several ranks, line up with the prompts."""

    def reset(self) -> None:
        """Forget all scores."""
        from ddmd_bench.metrics.states import IndexedRows  # torchmetrics: only once a metric is built, not on import

        self._rows = IndexedRows(1)

    def _record_batch(self, scores: torch.Tensor) -> None:
        """Scores of a batch just passed to `update` (they follow the previous batch's samples)."""
        self._rows.extend(scores)

    def state(self) -> dict[str, Any]:
        """Per-sample scores added since `reset` (one shard)."""
        return {"scores": self._rows.local()[:, 0]}

    def merge_state(self, state: dict[str, Any], start: int) -> None:
        """Add a shard's scores; `start` is the index of its first sample in the prompt list."""
        self._rows.extend(state["scores"], start)

    def _gathered(self) -> list[float]:
        """Every score, in prompt order (a collective under torch.distributed)."""
        return self._rows.compute()[1][:, 0].tolist()
