"""The performance table of docs/development.md is rendered from benchmarks/summary.json."""

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


def _summary(tmp_path, ratios):
    (tmp_path / "benchmarks").mkdir()
    summary = {"machine": {"cpu": "Test CPU", "cores": 2, "torch": "9.9", "torch_threads": 1, "blas_threads": "1"},
               "measured": "2026-01-01T00:00:00+00:00", "ratios": ratios}
    (tmp_path / "benchmarks" / "summary.json").write_text(json.dumps(summary))
    return Sources(tmp_path)


def test_targets_and_memory_rows(tmp_path):
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
        "frechet_2048d": {"ours_median_s": 1.5, "baseline_median_s": 15.0, "speedup": 10.0, "rounds": 3,
                          "baseline": "clean-fid"}}))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["toy evaluation (320 prompts) through the runner vs the bare generate/update loop"].endswith(
        "| 10.4 s | 10 s | 0.96x | ours <= 1.03x baseline: not met | 3 |")
    assert rows["peak RSS of a toy evaluation, 4096 prompts vs 256"].endswith(
        "| 1302 MiB | 1297 MiB | 1.00x | ours <= 1.02x baseline: met | 2 |")
    assert rows["clean-fid features in memory vs clean-fid's folder path, 64 px"].endswith("| >= 2x: met | 5 |")
    assert rows["`ddmd-bench prompts list`, wall time vs `--help`"].endswith("| ours <= 1 s: not met | 3 |")
    assert rows["Fréchet distance, 2048-d, vs clean-fid's `frechet_distance`"].endswith("| 10.00x |  | 3 |")
    assert text.splitlines()[0] == "| measurement | ours (median) | baseline (median) | speed-up | target | rounds |"


def test_no_target_column_without_targets(tmp_path):
    text = performance(_summary(tmp_path, {"frechet_2048d": {"ours_median_s": 1.5, "baseline_median_s": 15.0,
                                                             "speedup": 10.0, "rounds": 3, "baseline": "clean-fid"}}))
    assert text.splitlines()[0] == "| measurement | ours (median) | baseline (median) | speed-up | rounds |"
    assert "target" not in text
