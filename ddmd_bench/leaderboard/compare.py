"""Is the difference between two leaderboard entries real? Paired bootstrap tests, FID intervals, CI gates.

Entries of one leaderboard share a protocol, hence the same prompts and seeds in the same order, so per-sample
scores pair up exactly and the paired bootstrap removes prompt-to-prompt variance from the comparison.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ddmd_bench.metrics import catalog, dispersion

LATENCY_KEYS = {"latency.p50": "median", "latency.median": "median", "latency.p90": "p90", "latency.mean": "mean"}


@dataclass(frozen=True, slots=True)
class Comparison:
    """B minus A for one metric, with a 95% interval and a verdict in words."""

    metric: str
    a: float | None
    b: float | None
    diff: float | None
    low: float | None
    high: float | None
    method: str
    verdict: str


def paired_bootstrap(a: list[float | None], b: list[float | None], n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean of b - a, low, high, n pairs) over samples scored in both; the same prompts resampled together."""
    if len(a) != len(b):
        raise ValueError(f"per-sample scores are not aligned ({len(a)} vs {len(b)}): different protocols?")
    pairs = np.array([(x, y) for x, y in zip(a, b) if x is not None and y is not None], dtype=np.float64)
    if pairs.size == 0:
        raise ValueError("no sample is scored in both entries")
    d = pairs[:, 1] - pairs[:, 0]
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(1)
    alpha = (1 - level) / 2
    return float(d.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)), int(d.size)


def _verdict(metric: str, diff: float, low: float, high: float, higher_is_better: bool) -> str:
    if low <= 0 <= high:
        return "no significant difference"
    b_better = (diff > 0) == higher_is_better
    return f"B is {'better' if b_better else 'worse'} ({metric} {diff:+.4g})"


def compare_metric(name: str, ma: dict[str, Any], mb: dict[str, Any]) -> Comparison:
    """Paired bootstrap when both entries kept per-sample scores, else a normal interval from their CIs."""
    a, b = ma.get("value"), mb.get("value")
    hib = catalog.recorded_direction(name, ma)
    if ma.get("per_sample") and mb.get("per_sample"):
        diff, low, high, n = paired_bootstrap(list(ma["per_sample"]), list(mb["per_sample"]))
        return Comparison(name, a, b, diff, low, high, f"paired bootstrap over {n} samples",
                          _verdict(name, diff, low, high, hib))
    if None not in (a, b, ma.get("ci_low"), mb.get("ci_low")):
        # Independent estimates: combine standard errors recovered from each 95% interval.
        se = math.hypot((ma["ci_high"] - ma["ci_low"]) / 3.92, (mb["ci_high"] - mb["ci_low"]) / 3.92)
        diff = b - a
        return Comparison(name, a, b, diff, diff - 1.96 * se, diff + 1.96 * se, "normal interval from both CIs",
                          _verdict(name, diff, diff - 1.96 * se, diff + 1.96 * se, hib))
    diff = None if None in (a, b) else b - a
    return Comparison(name, a, b, diff, None, None, "no interval available", "not testable (no CI or samples)")


def compare_records(ra: dict[str, Any], rb: dict[str, Any]) -> list[Comparison]:
    """Compare every metric the two records share, plus batch-1 latency (informational, per hardware)."""
    if ra["protocol"]["fingerprint"] != rb["protocol"]["fingerprint"]:
        raise ValueError("entries come from different protocols and cannot be compared")
    out = [compare_metric(n, ra["metrics"][n], rb["metrics"][n]) for n in ra["metrics"] if n in rb["metrics"]]
    la, lb = ra.get("latency", {}), rb.get("latency", {})
    if "median" in la and "median" in lb:
        same_hw = dispersion.hardware(la) == dispersion.hardware(lb)
        note = "same hardware" if same_hw else "DIFFERENT hardware: not comparable"
        noisy = [label for label, lat in (("A", la), ("B", lb)) if dispersion.is_noisy(lat)]
        if noisy:
            note += f"; NOISY ({' and '.join(noisy)}: IQR above {dispersion.NOISY_RELATIVE_IQR:.0%} of the median)"
        out.append(Comparison("latency.p50", la["median"], lb["median"], lb["median"] - la["median"], None, None,
                              note, f"B/A = {lb['median'] / la['median']:.3f}" if la["median"] else "n/a"))
    return out


class GateRefused(ValueError):
    """A gate that cannot be decided from these two entries (noisy latency, different hardware)."""


@dataclass(frozen=True, slots=True)
class Gate:
    """A regression gate: fail when B is worse than A by more than `amount` (absolute, or relative if pct)."""

    metric: str
    amount: float
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Gate:
        """'fid:+0.5' (absolute) or 'latency.p50:5%' (relative)."""
        m = re.fullmatch(r"([\w.]+):\+?(\d+(?:\.\d+)?)(%?)", text.strip())
        if not m:
            raise ValueError(f"bad gate {text!r}: expected METRIC:+AMOUNT or METRIC:PERCENT% "
                             "(e.g. fid:+0.5, latency.p50:5%)")
        return cls(m[1], float(m[2]) / (100 if m[3] else 1), bool(m[3]))

    def check(self, ra: dict[str, Any], rb: dict[str, Any]) -> str | None:
        """None if B passes, else a message. A latency gate between noisy measurements or different hardware
        raises `GateRefused`: such a difference says nothing either way."""
        if self.metric in LATENCY_KEYS:
            problem = dispersion.comparison_problem(ra.get("latency") or {}, rb.get("latency") or {})
            if problem is not None:
                raise GateRefused(f"refusing the gate {self.metric}: {problem}")
        a, b, hib = _value(ra, self.metric), _value(rb, self.metric), _higher_is_better(ra, self.metric)
        worse_by = (a - b) if hib else (b - a)
        limit = abs(a) * self.amount if self.relative else self.amount
        if worse_by > limit:
            shown = f"{self.amount:.0%}" if self.relative else f"{self.amount:g}"
            return f"{self.metric}: {a:.6g} -> {b:.6g} is worse by {worse_by:.4g} (> allowed {shown})"
        return None


def _value(record: dict[str, Any], metric: str) -> float:
    if metric in LATENCY_KEYS:
        return record["latency"][LATENCY_KEYS[metric]]
    if metric not in record["metrics"]:
        raise ValueError(f"unknown gate metric {metric!r}; choices: "
                         f"{', '.join([*record['metrics'], *LATENCY_KEYS])}")
    return record["metrics"][metric]["value"]


def _higher_is_better(record: dict[str, Any], metric: str) -> bool:
    if metric in LATENCY_KEYS:
        return False
    return catalog.recorded_direction(metric, record["metrics"][metric])
