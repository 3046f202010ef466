"""Two-sided quality gates: a result is valid only if every gated metric lies inside its published range.

MLPerf Inference (SDXL, v5 rules) accepts a submission's accuracy run only if, on its 5,000 COCO-2014 prompts,
FID is in [23.01085758, 23.95007626] and CLIP score (100 cos, OpenCLIP ViT-B-32) is in [31.68631873, 31.81331801]
(PROTOCOLS.md §4): too good is as invalid as too bad, because the point is to reproduce the reference model, not to
beat it. Bounds are inclusive ("at least ... and at most ...").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GateRange:
    """An inclusive acceptance range for one metric."""

    metric: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"gate range for {self.metric}: low {self.low} > high {self.high}")


@dataclass(frozen=True, slots=True)
class RangeCheck:
    """One metric's value against its range."""

    metric: str
    value: float | None
    low: float
    high: float
    inside: bool
    reason: str


@dataclass(frozen=True, slots=True)
class GateResult:
    """The verdict: passed only if every range check passed."""

    gate: str
    passed: bool
    checks: tuple[RangeCheck, ...]

    def summary(self) -> str:
        """One line per metric, e.g. 'fid 23.5 in [23.01085758, 23.95007626]: ok'."""
        verdict = "PASS" if self.passed else "FAIL"
        return f"{self.gate}: {verdict}; " + "; ".join(f"{c.metric} {c.reason}" for c in self.checks)


@dataclass(frozen=True, slots=True)
class QualityGate:
    """Named set of ranges with the source that defines them."""

    name: str
    ranges: tuple[GateRange, ...]
    source: str

    def __post_init__(self) -> None:
        if not self.ranges:
            raise ValueError(f"gate {self.name} has no ranges (it would pass anything)")

    def range_for(self, metric: str) -> GateRange | None:
        """The range gating `metric`, if any."""
        return next((r for r in self.ranges if r.metric == metric), None)

    def check(self, values: Mapping[str, float | None]) -> GateResult:
        """Check metric values (missing, None or NaN fail: a gate cannot pass on a metric it did not see)."""
        checks = tuple(_check_one(r, values.get(r.metric)) for r in self.ranges)
        return GateResult(self.name, all(c.inside for c in checks), checks)

    def check_record(self, record: Mapping[str, Any]) -> GateResult:
        """Check a result record's metric values (`record["metrics"][name]["value"]`, status must be ok)."""
        metrics = record.get("metrics", {})
        values = {r.metric: metrics[r.metric].get("value") if metrics.get(r.metric, {}).get("status") == "ok"
                  else None for r in self.ranges if r.metric in metrics}
        return self.check(values)


def _check_one(r: GateRange, value: float | None) -> RangeCheck:
    span = f"[{r.low}, {r.high}]"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return RangeCheck(r.metric, None, r.low, r.high, False, f"missing (needed in {span})")
    inside = r.low <= value <= r.high
    side = "ok" if inside else ("below the range" if value < r.low else "above the range")
    return RangeCheck(r.metric, float(value), r.low, r.high, inside, f"{value} in {span}: {side}")


def gate_for(protocol) -> QualityGate | None:
    """The gate a protocol's metric specs declare (`"gate": {name, low, high}`), or None.

    Read from the protocol itself, so a record checked later uses the ranges its protocol was fingerprinted with; a
    prefix of a gated protocol (`--limit`) declares none, since FID at another n is not comparable with the range.
    """
    ranges = tuple(GateRange(metric, spec["gate"]["low"], spec["gate"]["high"])
                   for metric, spec in protocol.metrics.items() if "gate" in spec)
    if not ranges:
        return None
    name = next(spec["gate"]["name"] for spec in protocol.metrics.values() if "gate" in spec)
    return QualityGate(name, ranges, f"protocol {protocol.name} v{protocol.version}")


MLPERF_SDXL_GATE = QualityGate(
    "mlperf-sdxl-accuracy",
    (GateRange("fid", 23.01085758, 23.95007626), GateRange("clip_score", 31.68631873, 31.81331801)),
    "MLPerf Inference rules v5, SDXL benchmark (closed division accuracy targets)",
)
