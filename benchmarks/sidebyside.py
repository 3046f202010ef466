"""Side-by-side measurement: two implementations alternate round by round in the same process, so load from other
jobs hits both alike; the ratio of medians is what `benchmarks/summary.json` records, with the target it is held to
where the project sets one."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# ratio name -> measurement; conftest writes them to benchmarks/summary.json when the benchmark run ends
RATIOS: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True, slots=True)
class Target:
    """The bound a measurement is held to: ours / baseline at most `max_ratio` (a cost: time or memory), baseline /
    ours at least `min_speedup` (a speed-up), or ours at most `max_seconds` (an absolute wall time)."""

    max_ratio: float | None = None
    min_speedup: float | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.max_ratio, self.min_speedup, self.max_seconds)) != 1:
            raise ValueError("a target sets exactly one of max_ratio, min_speedup, max_seconds")

    def met(self, ours: float, baseline: float) -> bool:
        if self.max_ratio is not None:
            return ours / baseline <= self.max_ratio
        if self.min_speedup is not None:
            return baseline / ours >= self.min_speedup
        return ours <= self.max_seconds

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in (("max_ratio", self.max_ratio), ("min_speedup", self.min_speedup),
                                  ("max_seconds", self.max_seconds)) if v is not None}


def record(name: str, ours: float, baseline_value: float, baseline: str, rounds: int, unit: str = "s",
           target: Target | None = None, **extra: Any) -> dict[str, Any]:
    """Record medians already measured side by side (`unit` "s": seconds, "MiB": peak memory)."""
    suffix = "s" if unit == "s" else unit.lower()
    result = {f"ours_median_{suffix}": ours, "baseline": baseline, f"baseline_median_{suffix}": baseline_value,
              "speedup": baseline_value / ours, "rounds": rounds, **extra}
    if unit != "s":
        result["unit"] = unit
    if target is not None:
        result |= {"target": target.to_dict(), "met": target.met(ours, baseline_value)}
    RATIOS[name] = result
    return result


def compare(name: str, ours: Callable[[], Any], theirs: Callable[[], Any], rounds: int, baseline: str,
            target: Target | None = None, warmup: int = 0,
            excluded: Callable[[], float] | None = None) -> dict[str, Any]:
    """Alternate `theirs` and `ours` for `rounds` rounds (after `warmup` untimed rounds of each); record median
    seconds of each and theirs / ours. `excluded()`, read after each call of `ours`, is seconds of that call that
    are not part of the comparison (e.g. a protocol's latency rounds, which the baseline does not run)."""
    for _ in range(warmup):
        theirs()
        ours()
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        for fn, times in ((theirs, t_theirs), (ours, t_ours)):
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            times.append(elapsed - (excluded() if excluded is not None and fn is ours else 0.0))
    return record(name, statistics.median(t_ours), statistics.median(t_theirs), baseline, rounds, target=target)
