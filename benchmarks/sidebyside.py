"""Side-by-side timing: two implementations alternate round by round in the same process, so load from other jobs
hits both alike; the ratio of medians is what `benchmarks/summary.json` records."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

# ratio name -> measurement; conftest writes them to benchmarks/summary.json when the benchmark run ends
RATIOS: dict[str, dict[str, Any]] = {}


def compare(name: str, ours: Callable[[], Any], theirs: Callable[[], Any], rounds: int, baseline: str,
            higher_is_better: bool = False) -> dict[str, Any]:
    """Alternate `theirs` and `ours` for `rounds` rounds; record median seconds of each and theirs / ours."""
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        for fn, times in ((theirs, t_theirs), (ours, t_ours)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    m_ours, m_theirs = statistics.median(t_ours), statistics.median(t_theirs)
    result = {"ours_median_s": m_ours, "baseline": baseline, "baseline_median_s": m_theirs,
              "speedup": m_theirs / m_ours, "rounds": rounds}
    RATIOS[name] = result
    return result
