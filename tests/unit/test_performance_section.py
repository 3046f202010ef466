"""The performance table of docs/development.md is rendered from benchmarks/summary.json: every figure held to a
target is a row, measured or not, with its target and whether it was met."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import sidebyside
from ddmd_bench.report.performance import performance
from ddmd_bench.report.registry import load_sections
from ddmd_bench.report.sources import ReportError, Sources

ROOT = Path(__file__).resolve().parents[2]
MACHINE = {"cpu": "Test CPU", "cores": 2, "torch": "9.9", "torch_threads": 1, "blas_threads": "1"}


def _summary(tmp_path, ratios, figures=None, **extra):
    (tmp_path / "benchmarks").mkdir()
    summary = {"machine": MACHINE, "measured": "2026-01-01T00:00:00+00:00",
               "figures": {} if figures is None else figures, "ratios": ratios, **extra}
    (tmp_path / "benchmarks" / "summary.json").write_text(json.dumps(summary))
    return Sources(tmp_path)


def _rows(text):
    return {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}


FRECHET = {"ours_median_s": 1.5, "baseline_median_s": 15.0, "speedup": 10.0, "rounds": 3, "baseline": "clean-fid"}


def test_rows_machine_and_date_come_from_the_summary(tmp_path):
    text = performance(_summary(tmp_path, {"frechet_2048d_cholesky_vs_eigh": FRECHET}))
    assert "| Fréchet distance, 2048-d, Cholesky path vs the eigh square-root form | 1.5 s | 15 s | 10.00x | 3 |" in text
    assert "measured 2026-01-01T00:00:00+00:00: Test CPU, 2 cores available, torch 9.9" in text


def test_registered_as_a_generated_section():
    assert "performance" in load_sections()


def test_targets_met_and_memory_rows(tmp_path):
    figures = {"harness_overhead_toy_320": {"max_ratio": 1.03}, "peak_rss_toy_4096_vs_256_prompts": {"max_ratio": 1.02},
               "features_64x64px": {"min_speedup": 2.0}, "command_prompts_list": {"max_seconds": 1.0},
               "frechet_2048d": None}
    text = performance(_summary(tmp_path, {
        "harness_overhead_toy_320": {"ours_median_s": 10.4, "baseline_median_s": 10.0, "speedup": 10.0 / 10.4,
                                     "rounds": 3, "baseline": "bare loop", "target": {"max_ratio": 1.03},
                                     "met": False},
        "peak_rss_toy_4096_vs_256_prompts": {"ours_median_mib": 1302.4, "baseline_median_mib": 1297.0,
                                             "speedup": 1297.0 / 1302.4, "rounds": 2, "unit": "MiB",
                                             "baseline": "N = 256", "target": {"max_ratio": 1.02}, "met": True},
        "features_64x64px": {"ours_median_s": 0.2, "baseline_median_s": 0.5, "speedup": 2.5, "rounds": 5,
                             "baseline": "folder", "target": {"min_speedup": 2.0}, "met": True},
        "command_prompts_list": {"ours_median_s": 5.0, "baseline_median_s": 0.25, "speedup": 0.05, "rounds": 3,
                                 "baseline": "--help", "target": {"max_seconds": 1.0}, "met": False},
        "frechet_2048d": FRECHET}, figures))
    rows = _rows(text)
    assert rows["toy evaluation (320 prompts) through the runner vs the bare generate/update loop"].endswith(
        "| 10.4 s | 10 s | 0.96x | ours <= 1.03x baseline | **no** | 3 |")
    assert rows["peak RSS of a toy evaluation, 4096 prompts vs 256"].endswith(
        "| 1302 MiB | 1297 MiB | 1.00x | ours <= 1.02x baseline | yes | 2 |")
    assert rows["clean-fid features in memory vs clean-fid's folder path, 64 px"].endswith(
        "| speed-up >= 2x | yes | 5 |")
    assert rows["`ddmd-bench prompts list`, wall time vs `--help`"].endswith("| ours <= 1 s | **no** | 3 |")
    assert rows["Fréchet distance, 2048-d, vs clean-fid's `frechet_distance`"].endswith("| 10.00x | none |  | 3 |")
    assert text.splitlines()[0] == "| measurement | ours (median) | baseline (median) | speed-up | target | met | rounds |"
    assert "Other side-by-side measurements" not in text


def test_a_figure_without_a_measurement_is_shown_as_not_measured(tmp_path):
    text = performance(_summary(tmp_path, {"frechet_2048d_cholesky_vs_eigh": FRECHET},
                                {"demo_evaluate": {"max_seconds": 60.0}},
                                failed={"benchmarks/test_bench_demo.py::test_default_evaluation": "AssertionError"}))
    row = _rows(text)["`make demo` (`ddmd-bench evaluate`, fresh results folder), wall time vs the same command "
                      "reusing its results"]
    assert row.endswith("| not measured | | | ours <= 60 s | no: not measured | |")
    assert "Other side-by-side measurements:" in text
    assert "failed in the last run (no ratio recorded): `benchmarks/test_bench_demo.py::test_default_evaluation`" in text


def test_rows_measured_on_different_dates_carry_their_date(tmp_path):
    text = performance(_summary(tmp_path, {"frechet_2048d": {**FRECHET, "measured": "2025-12-31T10:00:00+00:00"},
                                           "frechet_2048d_cholesky_vs_eigh": FRECHET}, {"frechet_2048d": None}))
    assert text.splitlines()[0].endswith("| rounds | measured |")
    assert _rows(text)["Fréchet distance, 2048-d, vs clean-fid's `frechet_distance`"].endswith("| 3 | 2025-12-31 10:00 |")
    assert "measured from 2025-12-31T10:00:00+00:00 to 2026-01-01T00:00:00+00:00 (dated by row)" in text


def test_a_summary_without_figures_or_with_a_changed_target_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    sources = _summary(tmp_path / "a", {"frechet_2048d": FRECHET})
    summary = json.loads((tmp_path / "a/benchmarks/summary.json").read_text())
    del summary["figures"]
    (tmp_path / "a/benchmarks/summary.json").write_text(json.dumps(summary))
    with pytest.raises(ReportError, match="lists no figures.*run `make bench`"):
        performance(sources)
    (tmp_path / "b").mkdir()
    with pytest.raises(ReportError, match="frechet_2048d was measured against target None.*min_speedup"):
        performance(_summary(tmp_path / "b", {"frechet_2048d": FRECHET}, {"frechet_2048d": {"min_speedup": 10.0}}))


def test_the_committed_summary_lists_every_figure_with_its_target():
    committed = json.loads((ROOT / "benchmarks/summary.json").read_text())
    assert committed["figures"] == {name: t.to_dict() if t else None for name, t in sidebyside.FIGURES.items()}
