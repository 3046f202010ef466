"""ddmd-bench: benchmark and evaluation harness for distilled diffusion generators.

The Python API (docs/api.md): `evaluate` a model, read a `Leaderboard`. Both load on first use (PEP 562), so
`import ddmd_bench` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> "module:attribute", imported when first asked for
_EXPORTS = {
    "evaluate": "ddmd_bench.api.run:evaluate",
    "Evaluation": "ddmd_bench.api.run:Evaluation",
    "EvaluationFailed": "ddmd_bench.api.run:EvaluationFailed",
    "Leaderboard": "ddmd_bench.api.leaderboards:Leaderboard",
    "Result": "ddmd_bench.evaluation.records:Result",
}

__all__ = ["Evaluation", "EvaluationFailed", "Leaderboard", "Result", "__version__", "evaluate"]  # = _EXPORTS


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ddmd_bench' has no attribute {name!r}")
    module, _, attribute = _EXPORTS[name].partition(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # cached: later lookups do not come here again
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
