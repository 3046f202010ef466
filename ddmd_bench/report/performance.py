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
    "features_64x64px_one_resize_thread": "the same, 64 px, resizing on one thread",
    "features_32x512px_one_resize_thread": "the same, 512 px, resizing on one thread",
    "features_input_64x64px": "Inception input batch from memory vs clean-fid's DataLoader batch, 64 px",
    "features_input_32x512px": "Inception input batch from memory vs clean-fid's DataLoader batch, 512 px",
    "toy_fid_bootstrap_blas_1_vs_2_threads": "toy FID bootstrap (200 resamples, 128-d), numpy BLAS 1 thread vs 2",
    "toy_fid_bootstrap_cholesky_vs_eigh": "toy FID bootstrap (200 resamples, 128-d), Cholesky path vs eigh form",
    "harness_overhead_toy_320": "toy evaluation (320 prompts) through the runner vs the bare generate/update loop",
    "peak_rss_toy_4096_vs_256_prompts": "peak RSS of a toy evaluation, 4096 prompts vs 256",
    "trainer_step_vs_passes_decoupled_dmd": "Decoupled DMD training step vs its model passes timed alone",
    "trainer_step_vs_passes_dmd": "DMD training step vs its model passes timed alone",
    "command_methods_list": "`ddmd-bench methods list`, wall time vs `--help`",
    "command_methods_show_recipe": "`ddmd-bench methods show dmd2-sdxl-4step`, wall time vs `--help`",
    "command_prompts_list": "`ddmd-bench prompts list`, wall time vs `--help`",
    "command_leaderboard_show": "`ddmd-bench leaderboard show`, wall time vs `--help`",
    "command_leaderboard_compare": "`ddmd-bench leaderboard compare`, wall time vs `--help`",
}


def _value(r: dict[str, Any], side: str) -> str:
    """A median with its unit: seconds, or the unit the entry names (peak memory in MiB)."""
    unit = r.get("unit", "s")
    value = r[f"{side}_median_{unit.lower()}"]
    return f"{value:.3g} s" if unit == "s" else f"{value:.0f} {unit}"


def _target(r: dict[str, Any]) -> str:
    """The bound the row is held to and whether this run met it (blank where none is set)."""
    target = r.get("target")
    if not target:
        return ""
    if "max_ratio" in target:
        bound = f"ours <= {target['max_ratio']:g}x baseline"
    elif "min_speedup" in target:
        bound = f">= {target['min_speedup']:g}x"
    else:
        bound = f"ours <= {target['max_seconds']:g} s"
    return f"{bound}: {'met' if r['met'] else 'not met'}"


def _row(name: str, r: dict[str, Any], with_targets: bool) -> str:
    target = f" {_target(r)} |" if with_targets else ""
    return (f"| {LABELS.get(name, name)} | {_value(r, 'ours')} | {_value(r, 'baseline')} | {r['speedup']:.2f}x |"
            f"{target} {r['rounds']} |")


@SECTIONS.register("performance")
def performance(data: Sources) -> str:
    """Side-by-side medians and their ratio (baseline / ours: above 1 is faster or smaller), with the machine; a
    target column appears once any row is held to a target."""
    summary = data.json(SUMMARY)
    m = summary["machine"]
    with_targets = any("target" in r for r in summary["ratios"].values())
    header = ["measurement", "ours (median)", "baseline (median)", "speed-up", *(["target"] * with_targets), "rounds"]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|---:|" + "---|" * with_targets + "---:|"]
    lines += [_row(name, r, with_targets) for name, r in summary["ratios"].items()]
    note = (f"From `{SUMMARY}` ({summary['measured']}): {m['cpu']}, {m['cores']} cores available, torch {m['torch']}, "
            f"{m['torch_threads']} torch thread(s), BLAS threads {m['blas_threads']}. The two sides of each row "
            "alternate round by round in the same run, so other load hits both alike.")
    if "load_1min" in m:  # how busy the machine was: absolute seconds move with it, ratios much less
        note += f" 1-minute load average {m['load_1min']['start']} at the start, {m['load_1min']['end']} at the end."
    if with_targets:
        note += " Memory rows read the same way: speed-up is baseline / ours, below 1 when ours is larger."
    lines += ["", f"*{note}*"]
    return "\n".join(lines)
