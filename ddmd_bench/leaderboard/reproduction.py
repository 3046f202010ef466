"""When does a re-run reproduce a leaderboard entry instead of being a new result?

A record reproduces an entry when both measured the same thing and got the same quality numbers:

- same generator identity (the record's `generator` block, which holds the weights hashes, scheduler config and
  sampling settings) except the device it ran on, and the same protocol fingerprint, image count and schema;
- every quality metric the same status, spec and sample count (the hash of reference statistics computed on the
  machine aside), and its value and interval bounds within `tolerance(metric)` of the entry's.

The tolerance is max(1e-4 x |value|, 1% of the half-width of the entry's 95% interval). One percent of the
half-width is about 0.005 standard errors: no paired test or interval comparison could tell such a difference from
zero, yet it is far above the drift that float kernels of different CPUs produce (FID about 2e-5 relative, CLIP
score in the sixth digit). The relative floor covers metrics without an interval or with a zero-width one. A
counting metric such as prompt accuracy moves in steps of 1/n, always beyond this tolerance: one image classified
differently is a different result.

Latency is not a quality number: a reproduction keeps its own latency and hardware.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RELATIVE_FLOOR = 1e-4
INTERVAL_FRACTION = 0.01

# Record fields that belong to one run, not to what it measured.
RUN_FIELDS = ("run_id", "created", "timings", "environment", "latency")
# Record fields that follow from the generated images (the degenerate-output check): a re-run of the same generator
# finds the same, and a degenerate run is never published, so they say nothing about what was measured.
IMAGE_CHECK_FIELDS = ("outputs",)
# Generator fields that name the hardware rather than the generator.
HARDWARE_FIELDS = ("device",)
# Metric fields compared with the tolerance; per-sample scores and details follow from them.
QUALITY_FIELDS = ("value", "ci_low", "ci_high")
DERIVED_FIELDS = ("per_sample", "details")
# Spec fields computed on the machine: the hash of reference statistics streamed from the protocol's images changes
# with the last bits of the features. The reference set stays identified by its id and size (and the protocol);
# a genuinely different reference moves the FID itself far beyond the tolerance.
COMPUTED_SPEC_FIELDS = (("reference", "sha256"),)


@dataclass(frozen=True, slots=True)
class Delta:
    """How far one quality number of a re-run lies from the entry's, against the tolerance."""

    metric: str
    field: str
    delta: float
    tolerance: float

    @property
    def within(self) -> bool:
        """Inside the tolerance."""
        return abs(self.delta) <= self.tolerance

    @property
    def ratio(self) -> float:
        """|delta| / tolerance (0 when both are 0)."""
        if self.tolerance == 0:
            return 0.0 if self.delta == 0 else math.inf
        return abs(self.delta) / self.tolerance


def tolerance(metric: dict[str, Any]) -> float:
    """The largest difference from this metric's numbers that still counts as the same result."""
    value = metric.get("value")
    low, high = metric.get("ci_low"), metric.get("ci_high")
    scale = abs(value) if _number(value) else max(abs(low or 0.0), abs(high or 0.0))
    half_width = (high - low) / 2 if _number(low) and _number(high) else 0.0
    return max(RELATIVE_FLOOR * scale, INTERVAL_FRACTION * half_width)


def identity(record: dict[str, Any]) -> dict[str, Any]:
    """What a record measured, without its run, its hardware and its quality numbers."""
    kept = {k: v for k, v in record.items()
            if k not in RUN_FIELDS and k not in IMAGE_CHECK_FIELDS and k != "metrics"}
    kept["generator"] = {k: v for k, v in record.get("generator", {}).items() if k not in HARDWARE_FIELDS}
    kept["metrics"] = {name: _metric_identity(m) for name, m in record.get("metrics", {}).items()}
    return kept


def _metric_identity(metric: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in metric.items() if k not in QUALITY_FIELDS + DERIVED_FIELDS}
    spec = kept.get("spec")
    if isinstance(spec, dict):
        spec = dict(spec)
        for parent, child in COMPUTED_SPEC_FIELDS:
            if isinstance(spec.get(parent), dict):
                spec[parent] = {k: v for k, v in spec[parent].items() if k != child}
        kept["spec"] = spec
    return kept


def deltas(entry: dict[str, Any], candidate: dict[str, Any]) -> list[Delta] | None:
    """Per quality number: candidate minus entry, with the entry's tolerance; None if the two records differ in
    identity or a number is present in one and missing in the other."""
    if identity(entry) != identity(candidate):
        return None
    out = []
    for name, m in entry["metrics"].items():
        other = candidate["metrics"][name]
        tol = tolerance(m)
        for field in QUALITY_FIELDS:
            a, b = m.get(field), other.get(field)
            if a is None and b is None:
                continue
            if not (_number(a) and _number(b)):
                return None
            out.append(Delta(name, field, b - a, tol))
    return out


def reproduces(entry: dict[str, Any], candidate: dict[str, Any]) -> bool:
    """True if `candidate` is a reproduction of `entry` (same identity, every quality number within tolerance)."""
    found = deltas(entry, candidate)
    return found is not None and all(d.within for d in found)


def largest(found: list[Delta]) -> Delta | None:
    """The quality number closest to its tolerance."""
    return max(found, key=lambda d: d.ratio, default=None)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
