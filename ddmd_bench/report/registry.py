"""The section builders: name -> function from the committed data to Markdown."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ddmd_bench.registry import Registry
from ddmd_bench.report.sources import Sources

SectionBuilder = Callable[[Sources], str]

SECTIONS: Registry[SectionBuilder] = Registry("generated section")

# Modules whose import registers builders; add a new section module here.
SECTION_MODULES = (
    "ddmd_bench.report.toy",
    "ddmd_bench.report.weights",
    "ddmd_bench.report.ablation",
    "ddmd_bench.report.parity",
    "ddmd_bench.report.paper_metrics",
    "ddmd_bench.report.reported",
    "ddmd_bench.report.performance",
    "ddmd_bench.report.mutation",
    "ddmd_bench.report.commands",
)


def load_sections() -> Registry[SectionBuilder]:
    """The registry with every section module imported."""
    for module in SECTION_MODULES:
        importlib.import_module(module)
    return SECTIONS
