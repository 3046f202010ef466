"""The performance tables, from benchmarks/summary.json (written by `make bench`): the measurements the project holds
to a target, each with its target and whether the last measurement met it (a target without a measurement is shown
as not measured), then the other side-by-side measurements."""

from __future__ import annotations

from typing import Any

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import ReportError, Sources

SUMMARY = "benchmarks/summary.json"

# ratio name -> what it compares, in the table's words (a ratio not listed is shown under its own name)
LABELS = {
    "demo_evaluate": "`make demo` (`ddmd-bench evaluate`, fresh results folder), wall time vs the same command "
                     "reusing its results",
    "frechet_2048d": "Fréchet distance, 2048-d, vs clean-fid's `frechet_distance`",
    "frechet_2048d_cholesky_vs_eigh": "Fréchet distance, 2048-d, Cholesky path vs the eigh square-root form",
    "features_64x64px": "clean-fid features in memory vs clean-fid's folder path, 64 px",
    "features_32x512px": "clean-fid features in memory vs clean-fid's folder path, 512 px",
    "features_64x64px_one_resize_thread": "the same, 64 px, resizing on one thread",
    "features_32x512px_one_resize_thread": "the same, 512 px, resizing on one thread",
    "features_input_64x64px": "Inception input batch from memory vs clean-fid's DataLoader batch, 64 px",
    "features_input_32x512px": "Inception input batch from memory vs clean-fid's DataLoader batch, 512 px",
    "features_input_64x64px_banded": "Inception input batch, banded exact resize vs the Pillow resizer, 64 px",
    "features_input_32x512px_banded": "Inception input batch, banded exact resize vs the Pillow resizer, 512 px",
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
    "threads_processes_1_vs_2_each": "toy sampling in one process per core, one thread each vs two each",
}


def _value(r: dict[str, Any], side: str) -> str:
    """A median with its unit: seconds, or the unit the entry names (peak memory in MiB)."""
    unit = r.get("unit", "s")
    value = r[f"{side}_median_{unit.lower()}"]
    return f"{value:.3g} s" if unit == "s" else f"{value:.0f} {unit}"


def _bound(target: dict[str, float] | None) -> str:
    """A target in words ("none" where the measurement is reported without one)."""
    if not target:
        return "none"
    if "max_ratio" in target:
        return f"ours <= {target['max_ratio']:g}x baseline"
    if "min_speedup" in target:
        return f"speed-up >= {target['min_speedup']:g}x"
    return f"ours <= {target['max_seconds']:g} s"


def _measured(r: dict[str, Any], dated: bool) -> str:
    """The row's date cell (UTC, to the minute), where the rows were measured at different times."""
    return f" {r['measured'][:16].replace('T', ' ')} |" if dated else ""


def _target_row(name: str, target: dict[str, float] | None, r: dict[str, Any] | None, dated: bool) -> str:
    if r is None:
        return (f"| {LABELS.get(name, name)} | not measured | | | {_bound(target)} | "
                f"{'no: not measured' if target else ''} | |{' |' if dated else ''}")
    if r.get("target") != target:  # `met` was decided against the target the run had
        raise ReportError(f"{SUMMARY}: {name} was measured against target {r.get('target')}, but its figure's target "
                          f"is {target}: run its benchmark again (`make bench`)")
    met = ("yes" if r["met"] else "**no**") if target else ""
    return (f"| {LABELS.get(name, name)} | {_value(r, 'ours')} | {_value(r, 'baseline')} | {r['speedup']:.2f}x | "
            f"{_bound(target)} | {met} | {r['rounds']} |{_measured(r, dated)}")


def _other_row(name: str, r: dict[str, Any], dated: bool) -> str:
    return (f"| {LABELS.get(name, name)} | {_value(r, 'ours')} | {_value(r, 'baseline')} | {r['speedup']:.2f}x | "
            f"{r['rounds']} |{_measured(r, dated)}")


def _note(summary: dict[str, Any], dates: list[str]) -> str:
    m = summary["machine"]
    when = dates[0] if len(dates) == 1 else f"from {dates[0]} to {dates[-1]} (dated by row)"
    note = (f"From `{SUMMARY}`, measured {when}: {m['cpu']}, {m['cores']} cores available, torch {m['torch']}, "
            f"{m['torch_threads']} torch thread(s), BLAS threads {m['blas_threads']}. The two sides of each row "
            "alternate round by round in the same run, so other load hits both alike. Speed-up is baseline / ours: "
            "below 1 where ours costs more (a wall time next to a cheaper command, memory at a larger size).")
    if "load_1min" in m:  # how busy the machine was: absolute seconds move with it, ratios much less
        note += (f" 1-minute load average {m['load_1min']['start']} at the start of the last run, "
                 f"{m['load_1min']['end']} at its end.")
    if summary.get("failed"):
        note += (" Benchmarks that failed in the last run (no ratio recorded): "
                 + ", ".join(f"`{test}`" for test in summary["failed"]) + ".")
    return note


@SECTIONS.register("performance")
def performance(data: Sources) -> str:
    """The targets table (every figure of the summary, measured or not) and the other ratios, with the machine."""
    summary = data.json(SUMMARY)
    if "figures" not in summary:
        raise ReportError(f"{SUMMARY} lists no figures (the measurements held to targets): run `make bench`")
    figures = summary["figures"]
    ratios = {name: {"measured": summary["measured"], **r} for name, r in summary["ratios"].items()}
    dates = sorted({r["measured"] for r in ratios.values()}) or [summary["measured"]]
    dated = len(dates) > 1
    date_col = (" measured |", "---|") if dated else ("", "")
    lines = ["| measurement | ours (median) | baseline (median) | speed-up | target | met | rounds |" + date_col[0],
             "|---|---:|---:|---:|---|---|---:|" + date_col[1]]
    lines += [_target_row(name, target, ratios.get(name), dated) for name, target in figures.items()]
    others = [name for name in ratios if name not in figures]
    if others:
        lines += ["", "Other side-by-side measurements:", "",
                  "| measurement | ours (median) | baseline (median) | speed-up | rounds |" + date_col[0],
                  "|---|---:|---:|---:|---:|" + date_col[1]]
        lines += [_other_row(name, ratios[name], dated) for name in others]
    lines += ["", f"*{_note(summary, dates)}*"]
    return "\n".join(lines)
