"""Number formatting shared by the section builders, so prose and tables print a value the same way."""

from __future__ import annotations

from typing import Any


def num(value: float, digits: int = 3) -> str:
    """Fixed-point with `digits` decimals (accuracies: 0.953)."""
    return f"{value:.{digits}f}"


def signed(value: float, digits: int = 3) -> str:
    """With an explicit sign (+0.133, -0.40)."""
    return f"{value:+.{digits}f}"


def interval(low: float, high: float, digits: int = 3, sign: bool = True) -> str:
    """'[+0.090, +0.180]' (or unsigned)."""
    f = signed if sign else num
    return f"[{f(low, digits)}, {f(high, digits)}]"


def metric(record: dict[str, Any], name: str) -> float:
    """A metric's value in a result record."""
    return record["metrics"][name]["value"]


def ms(record: dict[str, Any]) -> float:
    """Batch-1 median latency in milliseconds (a record evaluated with --no-latency has none: an error, not a 0)."""
    median = (record.get("latency") or {}).get("median")
    if median is None:
        raise ValueError(f"{record.get('name', 'a record')}: latency was not measured (--no-latency); this figure "
                         f"needs a measured latency")
    return median * 1000


def seconds(value: float) -> str:
    """'2711 s (45 min)' for long durations, '375 s' otherwise."""
    return f"{value:.0f} s ({value / 60:.0f} min)" if value >= 600 else f"{value:.0f} s"
