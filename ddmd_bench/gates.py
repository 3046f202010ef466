"""Two-sided quality gates: a result is valid only if every gated metric lies inside its published range.

A protocol declares a gate in its metric specs (`"gate": {name, low, high, inclusive}`), so the ranges are part of
its fingerprint and a record checked later is checked against the ranges its protocol was defined with. Too good is
as invalid as too bad where a gate exists: the point is to reproduce a reference model, not to beat it. Bounds are
inclusive ("at least ... and at most ...").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class GatedProtocol(Protocol):
    """What a gate is read from: a protocol's name, version and metric specs (`ddmd_bench.protocol.Protocol`)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def metrics(self) -> dict[str, dict[str, Any]]: ...


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


def gate_for(protocol: GatedProtocol) -> QualityGate | None:
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
