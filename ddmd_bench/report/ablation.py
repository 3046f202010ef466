"""Sections built from the ablation report's results (docs/ablation/results.json, `ddmd-bench ablation report`).

Each row holds, per metric, [mean over seeds, half-width of the 95% t-interval].
"""

from __future__ import annotations

import math
from typing import Any

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import ReportError, Sources

RESULTS = "docs/ablation/results.json"
COLUMNS = (("accuracy", "prompt acc. held-in"), ("accuracy_heldout", "prompt acc. held-out"), ("fid", "toy FID"),
           ("precision", "precision"), ("recall", "recall"), ("pixel_std", "pixel std"))
CA_DM_ARMS = ("toy-dmd-4step", "toy-ddmd-full-4step", "toy-ddmd-constrained-4step", "toy-ddmd-4step")


def _rows(data: Sources) -> dict[str, dict[str, Any]]:
    return {row["arm"]: row for row in data.json(RESULTS)}


def _arm(rows: dict[str, dict[str, Any]], arm: str, data: Sources) -> dict[str, Any]:
    if arm not in rows:
        raise ReportError(f"{data.root / RESULTS}: no arm {arm!r}; re-run `ddmd-bench ablation report`")
    return rows[arm]


def _cell(key: str, value: list[float]) -> str:
    mean, half = value
    digits = 0 if key == "fid" else 3
    return f"{mean:.{digits}f}" + ("" if half is None or math.isnan(half) else f" ± {half:.{digits}f}")


def _pm(row: dict[str, Any], key: str) -> str:
    return _cell(key, row[key])


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] - a[1] <= b[0] + b[1] and b[0] - b[1] <= a[0] + a[1]


@SECTIONS.register("ablation-table")
def ablation_table(data: Sources) -> str:
    """Mean ± 95% t-interval half-width over seeds, per arm (the report's table.md, from results.json)."""
    lines = ["| arm | seeds (diverged) | step | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---" * (3 + len(COLUMNS)) + "|"]
    for arm, r in _rows(data).items():
        cells = " | ".join(_cell(key, r[key]) for key, _ in COLUMNS)
        lines.append(f"| {arm} | {r['seeds']} ({r['diverged']}) | {r['step']} | {cells} |")
    return "\n".join(lines)


@SECTIONS.register("ablation-findings")
def ablation_findings(data: Sources) -> str:
    """What the ablation says about each of the paper's claims, every number from results.json."""
    rows = _rows(data)
    ca, dm, unc = (_arm(rows, a, data) for a in ("toy-ca-only-4step", "toy-dm-only-4step", "toy-uncond-dmd-4step"))
    dmd2, full, cons, hyb = (_arm(rows, a, data) for a in CA_DM_ARMS)
    both = [rows[a]["accuracy"][0] for a in CA_DM_ARMS if a in rows]
    decoupled_lower = [name for name, r in (("decoupled-full", full), ("decoupled-constrained", cons))
                       if r["fid"][0] < dmd2["fid"][0]]
    overlaps = all(_overlap(r["fid"], dmd2["fid"]) for r in (full, cons))
    collapse = hyb["recall"][0] < dmd2["recall"][0] and hyb["precision"][0] >= dmd2["precision"][0]
    dm_word = "less than" if dm["accuracy"][0] < min(both) else "about as well as"
    return "\n".join([
        f"- **CA alone.** {ca['diverged']} of {ca['seeds']} CA-only runs hit the variance guard (a diverged run is "
        f"scored at its last good snapshot; step {ca['step']} here): toy FID {_pm(ca, 'fid')}, held-in accuracy "
        f"{_pm(ca, 'accuracy')}."
        + (" The paper (Figs. 2-3) describes the same collapse." if ca["diverged"] else ""),
        f"- **DM alone** diverges in {dm['diverged']} of {dm['seeds']} runs and follows prompts {dm_word} the "
        f"CA + DM arms (held-in accuracy {_pm(dm, 'accuracy')} against {min(both):.3f}-{max(both):.3f}), with recall "
        f"{_pm(dm, 'recall')}.",
        f"- **Decoupling the schedules.** Mean toy FID: DMD2 (coupled) {_pm(dmd2, 'fid')}, decoupled-full "
        f"{_pm(full, 'fid')}, decoupled-constrained {_pm(cons, 'fid')}; "
        + (f"{' and '.join(decoupled_lower)} {'is' if len(decoupled_lower) == 1 else 'are'} lower than DMD2 on "
           "average" if decoupled_lower else "neither decoupled arm is lower than DMD2 on average")
        + (", but the 95% intervals overlap: with three seeds this is not a significant difference." if overlaps
           else ", and the 95% intervals do not overlap.")
        + f" Held-in accuracy: DMD2 {_pm(dmd2, 'accuracy')}, full {_pm(full, 'accuracy')}, constrained "
          f"{_pm(cons, 'accuracy')}.",
        f"- **The hybrid schedule** (CA: U(t, 1), DM: U(0, 1); the paper's proposal, best of the four schedules in "
        f"its Lumina-Image-2.0 ablation) has precision {_pm(hyb, 'precision')} with recall {_pm(hyb, 'recall')} and "
        f"toy FID {_pm(hyb, 'fid')} ({hyb['fid'][0] / dmd2['fid'][0]:.1f}x DMD2's)"
        + (": higher precision and lower recall than DMD2, the signature of mode collapse, with this recipe (one "
           "fake-model update per student update, at the student's learning rate). The paper reports Decoupled DMD "
           "as more sensitive than DMD2 to the fake model's learning rate, so a fake-LR / TTUR sweep for this arm "
           "is the next measurement." if collapse else "."),
        f"- **Unconditional generation** (no CFG, so no CA term): DM alone on an unconditional student gives toy FID "
        f"{_pm(unc, 'fid')} and held-in accuracy {_pm(unc, 'accuracy')} (it is never shown a prompt).",
    ])
