"""Prompt accuracy (GenEval-style): the fraction of images whose detected attributes all match the prompt."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.base import MetricValue, check_images
from ddmd_bench.metrics.states import IndexedRows


class PromptAccuracy:
    """Scores prompts accepted by `subset` with a classifier `predict(images) -> {attribute: [value]}`.

    `parse(prompt) -> {attribute: value}` gives the prompt's intended attributes. Prompts outside the subset get
    `None` in the per-sample scores, so every metric's per-sample list stays aligned with the protocol's prompts.
    """

    kind = catalog.PROMPT_ACCURACY
    higher_is_better, version = kind.higher_is_better, kind.version

    def __init__(self, name: str, predict: Callable, parse: Callable[[str], dict[str, str]],
                 subset: Callable[[dict[str, str]], bool], spec: dict[str, Any], attributes: tuple[str, ...]) -> None:
        self.name, self._predict, self._parse, self._subset, self._spec = name, predict, parse, subset, spec
        self.attributes = tuple(attributes)
        self.reset()

    def scores_prompt(self, prompt: str) -> bool:
        """Whether `prompt` is in this metric's subset (checked before generation: evaluation/sample_needs.py)."""
        return bool(self._subset(self._parse(prompt)))

    def reset(self) -> None:
        """Forget all scores."""
        # One row per sample: [all attributes match, hit per attribute]; NaN where not scored or not named.
        self._rows = IndexedRows(1 + len(self.attributes))

    def state(self) -> dict[str, Any]:
        """Rows added since `reset` (one shard)."""
        return {"rows": self._rows.local()}

    def merge_state(self, state: dict[str, Any], start: int) -> None:
        """Add a shard's rows; `start` is the index of its first sample in the prompt list."""
        self._rows.extend(state["rows"], start)

    @torch.no_grad()
    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Classify the batch and compare with each prompt's attributes."""
        predicted = self._predict(check_images(images))
        rows = torch.full((len(prompts), 1 + len(self.attributes)), math.nan, dtype=torch.float64)
        for i, prompt in enumerate(prompts):
            wanted = self._parse(prompt)
            if not self._subset(wanted):
                continue
            unknown = set(wanted) - set(self.attributes)
            if unknown:
                raise ValueError(f"{self.name}: prompt {prompt!r} names attributes {sorted(unknown)} this metric "
                                 f"does not score (it scores {list(self.attributes)})")
            hits = {k: float(predicted[k][i] == v) for k, v in wanted.items()}
            rows[i, 0] = float(all(hits.values()))
            for j, k in enumerate(self.attributes, start=1):
                rows[i, j] = hits.get(k, math.nan)
        self._rows.extend(rows)

    def compute(self) -> MetricValue:
        """Accuracy over scored prompts with a bootstrap CI, plus per-attribute accuracies (a collective under
        torch.distributed: rows are gathered from every rank before anything else)."""
        rows = self._rows.compute()[1].numpy()
        scores = [None if math.isnan(v) else v for v in rows[:, 0].tolist()]
        scored = rows[~np.isnan(rows[:, 0]), 0]
        if scored.size == 0:
            raise ValueError(f"{self.name}: no prompt of this run belongs to the metric's subset")
        ci = metric_fn.bootstrap_mean(scored)
        per_attr = {k: float(np.nanmean(rows[:, j])) for j, k in enumerate(self.attributes, start=1)
                    if not np.isnan(rows[:, j]).all()}
        return MetricValue(value=ci.value, n=int(scored.size), ci_low=ci.low, ci_high=ci.high,
                           per_sample=tuple(scores), details={"per_attribute": per_attr})

    def spec(self) -> dict[str, Any]:
        """Classifier identity and subset."""
        return dict(self._spec)
