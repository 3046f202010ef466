"""The README's performance table is rendered from benchmarks/summary.json."""

from __future__ import annotations

import json

from ddmd_bench.report.performance import performance
from ddmd_bench.report.registry import load_sections
from ddmd_bench.report.sources import Sources


def test_table_rows_and_machine_come_from_the_summary(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    summary = {"machine": {"cpu": "Test CPU", "cores": 2, "torch": "9.9", "torch_threads": 1, "blas_threads": "1"},
               "measured": "2026-01-01T00:00:00+00:00",
               "ratios": {"frechet_2048d": {"ours_median_s": 1.5, "baseline_median_s": 15.0, "speedup": 10.0,
                                            "rounds": 3, "baseline": "clean-fid"}}}
    (tmp_path / "benchmarks" / "summary.json").write_text(json.dumps(summary))
    text = performance(Sources(tmp_path))
    assert "| Fréchet distance, 2048-d, vs clean-fid's `frechet_distance` | 1.5 s | 15 s | 10.00x | 3 |" in text
    assert "Test CPU, 2 cores available, torch 9.9" in text


def test_registered_as_a_generated_section():
    assert "performance" in load_sections()
