"""The README's performance table, from benchmarks/summary.json (written by `make bench`)."""

from __future__ import annotations

from typing import Any

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import Sources

SUMMARY = "benchmarks/summary.json"

# ratio name -> what it compares, in the table's words (a ratio not listed is shown under its own name)
LABELS = {
    "frechet_2048d": "Fréchet distance, 2048-d, vs clean-fid's `frechet_distance`",
    "frechet_2048d_cholesky_vs_eigh": "Fréchet distance, 2048-d, Cholesky path vs the eigh square-root form",
    "features_64x64px": "clean-fid features in memory vs clean-fid's folder path, 64 px",
    "features_32x512px": "clean-fid features in memory vs clean-fid's folder path, 512 px",
    "toy_fid_bootstrap_blas_1_vs_2_threads": "toy FID bootstrap (200 resamples, 128-d), numpy BLAS 1 thread vs 2",
    "toy_fid_bootstrap_cholesky_vs_eigh": "toy FID bootstrap (200 resamples, 128-d), Cholesky path vs eigh form",
    "command_methods_list": "`ddmd-bench methods list`, wall time vs `--help`",
    "command_methods_show_recipe": "`ddmd-bench methods show dmd2-sdxl-4step`, wall time vs `--help`",
    "command_prompts_list": "`ddmd-bench prompts list`, wall time vs `--help`",
    "command_leaderboard_show": "`ddmd-bench leaderboard show`, wall time vs `--help`",
}


def _row(name: str, r: dict[str, Any]) -> str:
    return (f"| {LABELS.get(name, name)} | {r['ours_median_s']:.3g} s | {r['baseline_median_s']:.3g} s | "
            f"{r['speedup']:.2f}x | {r['rounds']} |")


@SECTIONS.register("performance")
def performance(data: Sources) -> str:
    """Side-by-side medians and their ratio (baseline / ours: above 1 is faster), with the machine."""
    summary = data.json(SUMMARY)
    m = summary["machine"]
    lines = ["| measurement | ours (median) | baseline (median) | speed-up | rounds |", "|---|---:|---:|---:|---:|"]
    lines += [_row(name, r) for name, r in summary["ratios"].items()]
    lines += ["", f"*From `{SUMMARY}` ({summary['measured']}): {m['cpu']}, {m['cores']} cores available, torch "
                  f"{m['torch']}, {m['torch_threads']} torch thread(s), BLAS threads {m['blas_threads']}. The two sides of each row "
                  "alternate round by round in the same run, so other load hits both alike.*"]
    return "\n".join(lines)
