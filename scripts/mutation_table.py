"""Per-module mutation-testing table from mutmut's results (mutants/**/*.py.meta), for docs/mutation.md.

    python scripts/mutation_table.py            # Markdown table, then every non-equivalent survivor by name
    python scripts/mutation_table.py --json docs/mutation-results.json --wall-seconds 5400 --workers 2

With --json the same figures are written as data (per module: counts by outcome, kill rate, survivors by name; and
the cost of the run: mutants tested and, as given, the wall time and worker count of the run); `ddmd-bench report
readme` renders docs/mutation.md's generated table from that file.

Survivors argued equivalent (same behaviour as the original) are listed in scripts/mutation_equivalent.txt, one
`mutant-name  # argument` per line; they are counted apart and excluded from the kill rate. Exit status 1 when a
module mutmut has checked is below the 90% goal or a listed equivalent no longer exists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.90
KILLED = {1, 3}  # pytest failed (3: internal error while collecting or running)
SURVIVED = {0}
TIMEOUT = {36, 24, -24, 152, 255}
OUTCOMES = ("killed", "survived", "equivalent", "no tests", "timeout", "suspicious", "skipped", "not run")
# outcomes that count in the kill rate's denominator: everything checked and not argued equivalent
CHECKED = ("killed", "survived", "no tests", "suspicious", "timeout")


def load_equivalent(path: Path) -> dict[str, str]:
    """name -> argument, from the equivalents file (blank lines and lines starting with # are skipped)."""
    out = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, why = line.partition("#")
            out[name.strip()] = why.strip()
    return out


def module_results(mutants: Path) -> dict[str, dict[str, int | None]]:
    """Module dotted name -> {mutant name: exit code (None: not run yet)}."""
    out = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = meta.relative_to(mutants).with_suffix("").with_suffix("").as_posix().replace("/", ".")
        out[module] = codes
    return out


def classify(code: int | None, name: str, equivalent: dict[str, str]) -> str:
    if code is None:
        return "not run"
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:  # a hang, or only a slow machine: re-run these before counting them as killed
        return "timeout"
    if code in SURVIVED:
        return "equivalent" if name in equivalent else "survived"
    return {33: "no tests", 5: "no tests", 34: "skipped"}.get(code, "suspicious")


def summarise(results: dict[str, dict[str, int | None]], equivalent: dict[str, str]) -> dict:
    """The per-module figures and the run's cost, as written to --json."""
    modules, tested = {}, 0
    for module, mutants in results.items():
        kinds = {name: classify(code, name, equivalent) for name, code in mutants.items()}
        c = Counter(kinds.values())
        checked = sum(c[k] for k in CHECKED)
        modules[module] = {
            "mutants": len(mutants), **{k.replace(" ", "_"): c[k] for k in OUTCOMES},
            "checked": checked, "kill_rate": c["killed"] / checked if checked else None,
            "survivors": sorted(n for n, k in kinds.items() if k in ("survived", "no tests", "suspicious")),
        }
        tested += sum(1 for k in kinds.values() if k not in ("not run", "no tests", "skipped"))
    return {"goal": GOAL, "modules": modules, "tested": tested,
            "stale_equivalents": sorted(set(equivalent) - {n for m in results.values() for n in m})}


def print_table(summary: dict) -> list[str]:
    """Print the Markdown table and the survivors; returns the modules below the goal."""
    print("| module | mutants | killed | survived | equivalent | no tests | timeout | not run "
          "| killed / non-equivalent checked |")
    print("|---|---|---|---|---|---|---|---|---|")
    failing = []
    for module, m in summary["modules"].items():
        rate = m["kill_rate"]
        if rate is not None and rate < GOAL:
            failing.append(module)
        shown = "-" if rate is None else f"{rate:.1%}"
        print(f"| {module} | {m['mutants']} | {m['killed']} | {m['survived']} | {m['equivalent']} | {m['no_tests']} "
              f"| {m['timeout']} | {m['not_run']} | {shown} |")
    for m in summary["modules"].values():
        for name in m["survivors"]:
            print(f"survivor: {name}")
    return failing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--wall-seconds", type=float, help="wall time of the mutmut run(s) behind these results")
    parser.add_argument("--workers", type=int, help="mutmut --max-children of that run")
    args = parser.parse_args(argv)
    equivalent = load_equivalent(ROOT / "scripts" / "mutation_equivalent.txt")
    results = module_results(ROOT / "mutants")
    if not results:
        print("no mutmut results under mutants/: run `make mutate` first", file=sys.stderr)
        return 1
    summary = summarise(results, equivalent)
    failing = print_table(summary)
    if args.json:
        summary["run"] = {"written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                          "wall_seconds": args.wall_seconds, "workers": args.workers, "cpus": os.cpu_count(),
                          "load_average": [round(x, 1) for x in os.getloadavg()], "python": platform.python_version()}
        args.json.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for name in summary["stale_equivalents"]:
        print(f"listed as equivalent but no longer generated: {name}", file=sys.stderr)
    if failing:
        print(f"below the {GOAL:.0%} goal: {', '.join(failing)}", file=sys.stderr)
    return 1 if failing or summary["stale_equivalents"] else 0


if __name__ == "__main__":
    sys.exit(main())
