"""How many samples a metric needs for a value, and for an interval; checked before any image is generated.

A `--limit` (or a small prompt file) that leaves a metric too few samples is refused before generation, with the
metric's name and the smallest limit that works: a run that could only fail after generating every image wastes
the generation. An interval computed from fewer samples than `interval_min_n` is left out of the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.base import MetricValue
from ddmd_bench.protocol import Protocol as EvalProtocol

# The fewest samples each kind of metric needs for a value at all (kinds not listed: one).
VALUE_MIN_N: dict[str, int] = {
    catalog.FID.name: 2,  # the sample covariance divides by n - 1
    "fid_t": 2,  # the same Fréchet distance, against the teacher's images
    catalog.KID.name: 2,  # an unbiased MMD^2 of a subset needs two samples
}


@runtime_checkable
class ScoresSubset(Protocol):
    """A metric that scores only some prompts (prompt accuracy on held-out combinations)."""

    def scores_prompt(self, prompt: str) -> bool:
        """Whether the metric scores the image of `prompt`."""


def interval_min_n(level: float = 0.95) -> int:
    """The fewest samples for which a bootstrap interval at `level` can be shown.

    A resample made of one sample repeated n times has probability n^-n for each sample; while that reaches the
    tail (1 - level) / 2, the interval's ends are the smallest and largest samples themselves, not an estimate of
    the spread. The smallest n with n^-n < (1 - level) / 2 is 4 at 95%."""
    n = 1
    while n ** -n >= (1 - level) / 2:
        n += 1
    return n


def value_min_n(name: str, spec: Mapping[str, Any]) -> int:
    """The fewest samples metric `name` (with its recorded spec) needs for a value."""
    kind = catalog.METRICS.get(name).name if name in catalog.METRICS else name
    if kind in (catalog.PRECISION.name, catalog.RECALL.name):
        return int(spec.get("k", 3)) + 1  # the k-th nearest other generated sample must exist
    return VALUE_MIN_N.get(kind, 1)


def scored_positions(metric: object | None, prompts: Sequence[str]) -> list[int]:
    """1-based positions of the prompts the metric scores (every prompt unless it scores a subset)."""
    if isinstance(metric, ScoresSubset):
        return [i for i, p in enumerate(prompts, start=1) if metric.scores_prompt(p)]
    return list(range(1, len(prompts) + 1))


def check(protocol: EvalProtocol, prompts: Sequence[str], metrics: Mapping[str, Any] | None = None) -> None:
    """Refuse, before generation, a prompt list that leaves any of the protocol's metrics fewer samples than its
    value needs, naming the smallest --limit that works (for a metric of a subset, the smallest that could: later
    prompts may fall outside it). Without `metrics`, from the protocol's metric specs alone (before any metric
    loads its weights); with the built metrics, their subsets count too."""
    problems = []
    for name, spec in protocol.metrics.items():
        metric = (metrics or {}).get(name)
        need = value_min_n(name, spec if metric is None else metric.spec())
        scored = scored_positions(metric, prompts)
        if len(scored) >= need:
            continue
        limit = len(prompts) + need - len(scored)
        if len(scored) == len(prompts):
            problems.append(f"metric {name} needs at least {need} sample(s) and {len(prompts)} prompt(s) give it "
                            f"{len(scored)}: use --limit {limit} or more")
        else:
            problems.append(f"metric {name} scores a subset of the prompts and needs at least {need} of them; "
                            f"these {len(prompts)} prompt(s) hold {len(scored)}: use --limit {limit} or more "
                            f"(more if the next prompts fall outside the subset)")
    if problems:
        raise ValueError(f"protocol {protocol.name}: " + "; ".join(problems))


def without_short_interval(value: MetricValue, level: float = 0.95) -> MetricValue:
    """`value` without its interval when it rests on fewer samples than `interval_min_n(level)`, saying why."""
    need = interval_min_n(level)
    if value.ci_low is None or value.n >= need:
        return value
    return dataclasses.replace(value, ci_low=None, ci_high=None, details={
        **value.details, "interval": f"not shown: {value.n} sample(s), and an interval at {level:.0%} needs at "
                                     f"least {need}"})
