"""Per-module mutation-testing table from mutmut's results (mutants/**/*.py.meta), for docs/mutation.md.

    python scripts/mutation_table.py            # Markdown table, then every non-equivalent survivor by name

Survivors argued equivalent (same behaviour as the original) are listed in scripts/mutation_equivalent.txt, one
`mutant-name  # argument` per line; they are counted apart and excluded from the kill rate. Exit status 1 when a
module mutmut has checked is below the 90% goal or a listed equivalent no longer exists.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.90
KILLED = {1, 3}  # pytest failed (3: internal error while collecting or running)
SURVIVED = {0}
TIMEOUT = {36, 24, -24, 152, 255}


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


def main() -> int:
    equivalent = load_equivalent(ROOT / "scripts" / "mutation_equivalent.txt")
    results = module_results(ROOT / "mutants")
    if not results:
        print("no mutmut results under mutants/: run `make mutate` first", file=sys.stderr)
        return 1
    print("| module | mutants | killed | survived | equivalent | no tests | timeout | not run "
          "| killed / non-equivalent checked |")
    print("|---|---|---|---|---|---|---|---|---|")
    failing, survivors = [], []
    for module, codes in results.items():
        kinds = {name: classify(code, name, equivalent) for name, code in codes.items()}
        c = Counter(kinds.values())
        survivors += [n for n, k in kinds.items() if k in ("survived", "no tests", "suspicious")]
        checked = c["killed"] + c["survived"] + c["no tests"] + c["suspicious"] + c["timeout"]
        rate = c["killed"] / checked if checked else None
        if rate is not None and rate < GOAL:
            failing.append(module)
        shown = "-" if rate is None else f"{rate:.1%}"
        print(f"| {module} | {len(codes)} | {c['killed']} | {c['survived']} | {c['equivalent']} | {c['no tests']} "
              f"| {c['timeout']} | {c['not run']} | {shown} |")
    known = {n for codes in results.values() for n in codes}
    stale = sorted(set(equivalent) - known)
    for name in survivors:
        print(f"survivor: {name}")
    for name in stale:
        print(f"listed as equivalent but no longer generated: {name}", file=sys.stderr)
    if failing:
        print(f"below the {GOAL:.0%} goal: {', '.join(failing)}", file=sys.stderr)
    return 1 if failing or stale else 0


if __name__ == "__main__":
    sys.exit(main())
