"""Side-by-side measurement: two implementations alternate round by round in the same process, so load from other
jobs hits both alike; the ratio of medians is what `benchmarks/summary.json` records, with the target it is held to.

`FIGURES` names every measurement the project reports and the target each is held to; the summary lists them all,
so one that a run did not produce shows in the performance table as not measured instead of vanishing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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


# Every reported measurement -> its target (None: reported side by side without one), in the table's order.
FIGURES: dict[str, Target | None] = {
    "demo_evaluate": Target(max_seconds=60.0),  # `make demo` on the 2-core machine
    "frechet_2048d": Target(min_speedup=10.0),
    "features_64x64px": Target(min_speedup=2.0),
    "features_32x512px": None,
    "harness_overhead_toy_320": Target(max_ratio=1.03),
    "peak_rss_toy_4096_vs_256_prompts": Target(max_ratio=1.02),
    "trainer_step_vs_passes_decoupled_dmd": Target(max_ratio=1.05),
    "command_methods_list": Target(max_seconds=1.0),
    "command_methods_show_recipe": Target(max_seconds=1.0),
    "command_leaderboard_show": Target(max_seconds=1.0),
    "command_leaderboard_compare": Target(max_seconds=1.0),
    "command_prompts_list": Target(max_seconds=1.0),
    # the default of one thread per process, against two each, with as many processes as cores
    "threads_processes_1_vs_2_each": Target(min_speedup=1.0),
}

# ratio name -> measurement; conftest writes them to benchmarks/summary.json when the benchmark run ends
RATIOS: dict[str, dict[str, Any]] = {}
# what must match for an earlier run's ratios to be kept beside this run's
SAME_MACHINE = ("cpu", "cores", "torch", "python")


def target_for(name: str, target: Target | None = None) -> Target | None:
    """The target of `name`: FIGURES' (a different one passed by a benchmark is an error), else `target`."""
    if name in FIGURES:
        if target is not None and target != FIGURES[name]:
            raise ValueError(f"benchmark passes target {target} for {name!r}, but FIGURES holds it to "
                             f"{FIGURES[name]}: change it in benchmarks/sidebyside.py only")
        return FIGURES[name]
    return target


def record(name: str, ours: float, baseline_value: float, baseline: str, rounds: int, unit: str = "s",
           target: Target | None = None, **extra: Any) -> dict[str, Any]:
    """Record medians already measured side by side (`unit` "s": seconds, "MiB": peak memory)."""
    suffix = "s" if unit == "s" else unit.lower()
    result = {f"ours_median_{suffix}": ours, "baseline": baseline, f"baseline_median_{suffix}": baseline_value,
              "speedup": baseline_value / ours, "rounds": rounds, **extra}
    if unit != "s":
        result["unit"] = unit
    target = target_for(name, target)
    if target is not None:
        result |= {"target": target.to_dict(), "met": target.met(ours, baseline_value)}
    RATIOS[name] = result
    return result


def compare(name: str, ours: Callable[[], Any], theirs: Callable[[], Any], rounds: int, baseline: str,
            target: Target | None = None, warmup: int = 0,
            excluded: Callable[[], float] | None = None, **extra: Any) -> dict[str, Any]:
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
    return record(name, statistics.median(t_ours), statistics.median(t_theirs), baseline, rounds, target=target,
                  **extra)


def merge_summary(old: dict[str, Any], measured: str, machine: dict[str, Any], ratios: dict[str, dict[str, Any]],
                  failed: dict[str, str], passed: set[str]) -> dict[str, Any]:
    """The summary after a run: its `ratios` over the `old` summary's (kept only from the same machine, so a partial
    run, e.g. `-k frechet`, updates only its own), each with the date it was measured. A benchmark (node id) that
    `failed` now loses its earlier ratios and stays listed under "failed" until it has `passed`; "figures" lists
    every reported measurement and its target, measured or not."""
    same = bool(old) and all(old.get("machine", {}).get(k) == machine.get(k) for k in SAME_MACHINE)
    earlier = old.get("ratios", {}) if same else {}
    kept = {name: {**r, "measured": r.get("measured", old.get("measured"))} for name, r in earlier.items()
            if r.get("test") not in failed}
    still_failing = {test: why for test, why in (old.get("failed", {}) if same else {}).items() if test not in passed}
    merged = {**kept, **{name: {**r, "measured": measured} for name, r in ratios.items()}}
    return {"machine": machine, "measured": measured,
            "figures": {name: t.to_dict() if t is not None else None for name, t in FIGURES.items()},
            "ratios": dict(sorted(merged.items())), "failed": dict(sorted({**still_failing, **failed}.items()))}
