"""docs/mutation.md's results: the per-module table and the cost of the run, from docs/mutation-results.json
(written by `scripts/mutation_table.py --json` from mutmut's results)."""

from __future__ import annotations

from typing import Any

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import Sources

RESULTS = "docs/mutation-results.json"


def _path(module: str) -> str:
    """ddmd_bench.metrics.functional -> metrics/functional.py"""
    return module.removeprefix("ddmd_bench.").replace(".", "/") + ".py"


def _rate(m: dict[str, Any]) -> str:
    return "-" if m["kill_rate"] is None else f"{m['kill_rate']:.1%}"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def _cost(data: dict[str, Any], total: int) -> list[str]:
    run, tested = data.get("run") or {}, data["tested"]
    wall, workers = run.get("wall_seconds"), run.get("workers")
    if not (tested and wall and workers):
        return []
    per_minute = tested / (wall / 60)
    return [f"Cost of the runs behind this table: {tested} mutants tested in {_duration(wall)} of wall time with "
            f"{workers} worker(s) on {run['cpus']} CPU core(s) shared with other work (load average "
            f"{run['load_average'][0]:g} when the results were written, {run['written']}), that is "
            f"{per_minute:.1f} mutants per minute; at that pace all {total} mutants from scratch take about "
            f"{_duration(total / per_minute * 60)} on this machine."]


@SECTIONS.register("mutation")
def mutation(data: Sources) -> str:
    """Killed / survived / equivalent per module, the kill rate over non-equivalent checked mutants, the goal, the
    cost of the run and every survivor by name."""
    results = data.json(RESULTS)
    modules = results["modules"]
    goal = results["goal"]
    lines = ["| module | mutants | killed | survived | equivalent | no tests | timeout | not run | killed / "
             "non-equivalent checked |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in modules.items():
        lines.append(f"| `{_path(name)}` | {m['mutants']} | {m['killed']} | {m['survived']} | {m['equivalent']} | "
                     f"{m['no_tests']} | {m['timeout']} | {m['not_run']} | {_rate(m)} |")
    total = sum(m["mutants"] for m in modules.values())
    met = [n for n, m in modules.items() if m["kill_rate"] is not None and m["kill_rate"] >= goal]
    below = [n for n, m in modules.items() if m["kill_rate"] is not None and m["kill_rate"] < goal]
    unchecked = [n for n, m in modules.items() if m["kill_rate"] is None]
    partial = [n for n, m in modules.items() if m["not_run"]]
    lines += ["", f"*From `{RESULTS}`. Goal: at least {goal:.0%} of the non-equivalent checked mutants killed. "
                  f"Met, over the mutants checked so far, by {len(met)} of {len(modules)} modules"
              + (f"; below it: {', '.join(f'`{_path(n)}`' for n in below)}" if below else "")
              + (f"; none checked yet: {', '.join(f'`{_path(n)}`' for n in unchecked)}" if unchecked else "")
              + (f"; not run to the end: {', '.join(f'`{_path(n)}`' for n in partial)}" if partial else "")
              + ".*"]
    cost = _cost(results, total)
    if cost:
        lines += ["", *cost]
    survivors = [(n, s) for n, m in modules.items() for s in m["survivors"]]
    if survivors:
        lines += ["", "Survivors (not killed, not argued equivalent):", ""]
        lines += [f"- `{s}`" for _, s in survivors]
    return "\n".join(lines)
