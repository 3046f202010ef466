"""When a latency measurement is too noisy to trust, and when two latencies may be compared at all.

Torch-free, so the leaderboard commands can use it. A measurement is noisy when its interquartile range exceeds
NOISY_RELATIVE_IQR of its median: then the median itself moves by that much from one run to the next, and a
difference of a few percent between two entries says nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# IQR / median above this marks a latency noisy. A quiet machine measures a few percent; a loaded one measured
# an IQR of 2.06 s on a 2.46 s median (84%).
NOISY_RELATIVE_IQR = 0.10


def relative_iqr(latency: Mapping[str, Any]) -> float | None:
    """IQR / median of a latency summary (None when either is missing or the median is 0)."""
    iqr, median = latency.get("iqr"), latency.get("median")
    if iqr is None or not median:
        return None
    return float(iqr) / float(median)


def is_noisy(latency: Mapping[str, Any]) -> bool:
    """Whether the summary's relative IQR exceeds NOISY_RELATIVE_IQR (recomputed, so older records are judged by
    the same rule)."""
    rel = relative_iqr(latency)
    return rel is not None and rel > NOISY_RELATIVE_IQR


def hardware(latency: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a latency depends on beyond the generator: device type and name, and the CPU thread count."""
    device = latency.get("device") or {}
    return device.get("type"), device.get("name"), device.get("threads")


def describe_hardware(latency: Mapping[str, Any]) -> str:
    """'AMD EPYC (cpu, 2 threads)' for messages."""
    kind, name, threads = hardware(latency)
    return f"{name} ({kind}{f', {threads} threads' if threads is not None else ''})"


def comparison_problem(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """Why latencies `a` and `b` cannot be compared (either one not measured, different hardware, or either one
    noisy), else None."""
    unmeasured = [label for label, lat in (("A", a), ("B", b)) if lat.get("median") is None]
    if unmeasured:
        return f"latency was not measured for {' and '.join(unmeasured)} (--no-latency); nothing to compare"
    if hardware(a) != hardware(b):
        return (f"they were measured on different hardware, {describe_hardware(a)} vs {describe_hardware(b)}; "
                f"latency compares only within one machine: measure both on the same one")
    noisy = [f"{label} (IQR {relative_iqr(lat):.0%} of its median)" for label, lat in (("A", a), ("B", b))
             if is_noisy(lat)]
    if noisy:
        return (f"the latency of {' and '.join(noisy)} is noisy (above {NOISY_RELATIVE_IQR:.0%}); re-measure on an "
                f"idle machine before gating on it")
    return None
