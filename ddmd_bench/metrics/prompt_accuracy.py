"""Prompt accuracy (GenEval-style): the fraction of images whose detected attributes all match the prompt."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ddmd_bench.metrics import functional as F
from ddmd_bench.metrics.base import MetricValue, check_images


class PromptAccuracy:
    """Scores prompts accepted by `subset` with a classifier `predict(images) -> {attribute: [value]}`.

    `parse(prompt) -> {attribute: value}` gives the prompt's intended attributes. Prompts outside the subset get
    `None` in the per-sample scores, so every metric's per-sample list stays aligned with the protocol's prompts.
    """

    higher_is_better = True
    version = "1"

    def __init__(self, name: str, predict: Callable, parse: Callable[[str], dict[str, str]],
                 subset: Callable[[dict[str, str]], bool], spec: dict[str, Any]) -> None:
        self.name, self._predict, self._parse, self._subset, self._spec = name, predict, parse, subset, spec
        self.reset()

    def reset(self) -> None:
        """Forget all scores."""
        self._scores: list[float | None] = []
        self._per_attribute: dict[str, list[float]] = {}

    def state(self) -> dict[str, Any]:
        """Per-sample scores (NaN for prompts outside the subset) and per-attribute hits since `reset`."""
        return {"scores": torch.tensor([float("nan") if v is None else v for v in self._scores], dtype=torch.float64),
                "per_attribute": {k: torch.tensor(v, dtype=torch.float64) for k, v in self._per_attribute.items()}}

    def merge_state(self, state: dict[str, Any]) -> None:
        """Append a shard's scores (in shard order)."""
        self._scores.extend(None if math.isnan(v) else v for v in state["scores"].tolist())
        for k, v in state["per_attribute"].items():
            self._per_attribute.setdefault(k, []).extend(v.tolist())

    @torch.no_grad()
    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Classify the batch and compare with each prompt's attributes."""
        predicted = self._predict(check_images(images))
        for i, prompt in enumerate(prompts):
            wanted = self._parse(prompt)
            if not self._subset(wanted):
                self._scores.append(None)
                continue
            hits = {k: float(predicted[k][i] == v) for k, v in wanted.items()}
            for k, h in hits.items():
                self._per_attribute.setdefault(k, []).append(h)
            self._scores.append(float(all(hits.values())))

    def compute(self) -> MetricValue:
        """Accuracy over scored prompts with a bootstrap CI, plus per-attribute accuracies."""
        scored = np.array([s for s in self._scores if s is not None])
        if scored.size == 0:
            raise ValueError(f"{self.name}: no prompt of this run belongs to the metric's subset")
        ci = F.bootstrap_mean(scored)
        per_attr = {k: float(np.mean(v)) for k, v in self._per_attribute.items()}
        return MetricValue(value=ci.value, n=int(scored.size), ci_low=ci.low, ci_high=ci.high,
                           per_sample=tuple(self._scores), details={"per_attribute": per_attr})

    def spec(self) -> dict[str, Any]:
        """Classifier identity and subset."""
        return dict(self._spec)
