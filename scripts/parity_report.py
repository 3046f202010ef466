"""The report each parity script writes (docs/*-parity.json): what the metric computes, the reference it is held
against, the largest difference over the cases, and each negative control's difference, which must exceed the
tolerance (a check that cannot tell a control from the metric proves nothing); one JSON file and one summary line."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch


def write_report(out: Path, title: str, *, definition: str, reference: str, model: str, tolerance: float,
                 difference: float, cases: list[dict[str, Any]], controls: dict[str, float],
                 library: tuple[str, str]) -> int:
    """Writes `out` and prints the summary; the exit status (0: within tolerance and every control caught).
    `library` is the (name, version) of the package the metric is built on, recorded with python and torch."""
    passed = bool(difference <= tolerance and min(controls.values()) > tolerance)
    result = {
        "definition": definition, "reference": reference, "model": model,
        "tolerance_abs": tolerance, "max_abs_difference": difference, "cases": cases,
        "negative_controls_max_abs_difference": controls, "passed": passed,
        "environment": {"python": platform.python_version(), "torch": torch.__version__, library[0]: library[1],
                        "machine": platform.machine()},
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{title} parity: max |difference| {difference:.2e} (tolerance {tolerance}); controls "
          + ", ".join(f"{k}: {v:.3g}" for k, v in controls.items()) + f" -> {'passed' if passed else 'FAILED'}")
    return 0 if passed else 1
