"""Measurement-like numbers outside generated blocks: a figure typed by hand instead of generated from data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ddmd_bench.report import markers

# What a hand-typed measurement looks like: an interval, a value with three or more decimals, a duration, a decimal
# percentage or speed-up. Versions (4.55.4), constants in code spans and fenced code are not measurements.
_PATTERNS = (
    re.compile(r"±"),
    re.compile(r"(?<![\w.])\d+\.\d{3,}(?![\d.])"),
    re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:ms|s|min|h)\b"),
    re.compile(r"(?<![\w.])\d+\.\d+(?:%|x\b)"),
)
_CODE_SPAN = re.compile(r"`[^`]*`")


@dataclass(frozen=True, slots=True)
class Finding:
    """A measurement-like number outside any generated block."""

    where: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.text!r} looks like a measurement; generate it from data"


def unmarked_measurements(text: str, where: str) -> list[Finding]:
    """Measurement-like numbers in `text` outside generated blocks, code spans and fenced code."""
    lines = text.split("\n")
    skip = {i for b in markers.blocks(text, where) for i in range(b.start, b.end + 1)}
    fenced = False
    found = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or i in skip:
            continue
        prose = _CODE_SPAN.sub("", line)
        found += [Finding(where, i + 1, m[0]) for p in _PATTERNS for m in p.finditer(prose)]
    return found
