"""Sections built from the ablation's results: the current report (docs/ablation/results.json, written by
`ddmd-bench ablation report`) and the record of the first ablation, measured with the world v1 teacher
(docs/ablation/v1/results.json: one row per arm holding, per metric, [mean over seeds, 95% t half-width]).
"""

from __future__ import annotations

import math
from typing import Any

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import ReportError, Sources

RESULTS = "docs/ablation/results.json"
RESULTS_V1 = "docs/ablation/v1/results.json"
COLUMNS = (("accuracy", "prompt acc. held-in"), ("accuracy_heldout", "prompt acc. held-out"), ("fid", "toy FID"),
           ("precision", "precision"), ("recall", "recall"), ("pixel_std", "pixel std"))
CA_DM_ARMS = ("toy-dmd-4step", "toy-ddmd-full-4step", "toy-ddmd-constrained-4step", "toy-ddmd-4step")


def _rows(data: Sources) -> dict[str, dict[str, Any]]:
    return {row["arm"]: row for row in data.json(RESULTS_V1)}


def _arm(rows: dict[str, dict[str, Any]], arm: str, data: Sources) -> dict[str, Any]:
    if arm not in rows:
        raise ReportError(f"{data.root / RESULTS_V1}: no arm {arm!r} in the world v1 ablation record")
    return rows[arm]


def _cell(key: str, value: list[float]) -> str:
    mean, half = value
    digits = 0 if key == "fid" else 3
    return f"{mean:.{digits}f}" + ("" if half is None or math.isnan(half) else f" ± {half:.{digits}f}")


def _pm(row: dict[str, Any], key: str) -> str:
    return _cell(key, row[key])


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] - a[1] <= b[0] + b[1] and b[0] - b[1] <= a[0] + a[1]


@SECTIONS.register("ablation-v1-table")
def ablation_v1_table(data: Sources) -> str:
    """Mean ± 95% t-interval half-width over seeds, per arm (the report's table.md, from results.json)."""
    lines = ["| arm | seeds (diverged) | step | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---" * (3 + len(COLUMNS)) + "|"]
    for arm, r in _rows(data).items():
        cells = " | ".join(_cell(key, r[key]) for key, _ in COLUMNS)
        lines.append(f"| {arm} | {r['seeds']} ({r['diverged']}) | {r['step']} | {cells} |")
    return "\n".join(lines)


@SECTIONS.register("ablation-v1-findings")
def ablation_v1_findings(data: Sources) -> str:
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


# ------------------------------------------------------------------------------- the current ablation (v3 layout)
def _v3(data: Sources) -> dict[str, Any]:
    return data.json(RESULTS)


def _value(x: float, digits: int, sign: bool = False) -> str:
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _mean_ci(iv: dict[str, Any], digits: int) -> str:
    """'0.953 ± 0.012' (mean ± 95% t half-width), or the bare mean from a single run; '-' without any."""
    if not iv["n"]:
        return "-"
    return _value(iv["mean"], digits) + ("" if iv["half"] is None else f" ± {iv['half']:.{digits}f}")


def difference_cell(iv: dict[str, Any], digits: int, empty: str = "-", min_pairs: int = 0) -> str:
    """'+0.031 [-0.010, +0.072]', in bold where the interval excludes zero from at least `min_pairs` pairs; the pair
    count when there is no interval."""
    if iv["half"] is None:
        return f"{_value(iv['mean'], digits, True)} (n={iv['n']})" if iv["n"] else empty
    low, high = iv["mean"] - iv["half"], iv["mean"] + iv["half"]
    text = f"{_value(iv['mean'], digits, True)} [{_value(low, digits, True)}, {_value(high, digits, True)}]"
    return f"**{text}**" if abs(iv["mean"]) > iv["half"] and iv["n"] >= min_pairs else text


def _steps(arm: dict[str, Any]) -> str:
    if arm["steps"] is None:
        return "-"
    low, high = arm["steps"]
    return str(low) if low == high else f"{low}-{high}"


def table_markdown(data: dict[str, Any]) -> str:
    """Per arm: finished runs of those planned (diverged ones), steps reached, and mean ± 95% t half-width over
    seeds of every metric at each run's last snapshot."""
    metrics = data["metrics"]
    lines = ["| arm | runs (diverged) | step | " + " | ".join(m["label"] for m in metrics) + " |",
             "|---" * (3 + len(metrics)) + "|"]
    for arm in data["arms"]:
        cells = " | ".join(_mean_ci(arm["final"][m["key"]], m["digits"]) for m in metrics)
        lines.append(f"| {arm['arm']} | {arm['runs']} of {arm['seeds_planned']} ({arm['diverged']}) | "
                     f"{_steps(arm)} | {cells} |")
    return "\n".join(lines)


@SECTIONS.register("ablation-table")
def ablation_table(data: Sources) -> str:
    """The report's table.md, from results.json."""
    return table_markdown(_v3(data))


@SECTIONS.register("ablation-status")
def ablation_status(data: Sources) -> str:
    """How much of the ablation has finished, on which teacher and protocol."""
    d = _v3(data)
    cfg, protocol = d["config"], d["protocol"]
    done, planned = d["finished_runs"], d["planned_runs"]
    state = (f"**Partial: {done} of {planned} runs have finished.** Arms with fewer than {d['min_pairs']} finished "
             "seeds are listed, but no claim is decided on them; every verdict below may change as runs finish."
             if done < planned else f"All {planned} planned runs have finished.")
    scored = (f"scores on protocol {protocol['name']} v{protocol['version']} (`{protocol['fingerprint'][:12]}`)"
              if protocol else "scores on the toy protocol")
    return (f"{state} Teacher sha256 `{d['teacher_sha256'][:12]}`; {scored}; {cfg['steps']} student updates per run, "
            f"an EMA snapshot scored every {cfg['snapshot_every']}; seeds {', '.join(map(str, cfg['seeds']))}.")


@SECTIONS.register("ablation-arms")
def ablation_arms(data: Sources) -> str:
    """What each arm trains."""
    lines = ["| arm | preset | changes | seeds | what it tests |", "|---|---|---|---|---|"]
    for arm in _v3(data)["arms"]:
        changes = ", ".join(f"`{k}={v:g}`" if isinstance(v, float) else f"`{k}={v}`"
                            for k, v in arm["overrides"].items()) or "-"
        lines.append(f"| {arm['arm']} | `{arm['preset']}` | {changes} | {arm['seeds_planned']} | {arm['what']} |")
    return "\n".join(lines)


@SECTIONS.register("ablation-differences")
def ablation_differences(data: Sources) -> str:
    """Paired differences (arm minus the baseline, same seeds) with 95% t-intervals; bold: excludes zero."""
    d = _v3(data)
    metrics = d["metrics"]
    lines = ["| arm - " + d["baseline"] + " | " + " | ".join(m["label"] for m in metrics) + " |",
             "|---" * (1 + len(metrics)) + "|"]
    for row in d["differences"]:
        pairs = max(iv["n"] for iv in row["metrics"].values())
        cells = " | ".join(difference_cell(row["metrics"][m["key"]], m["digits"], min_pairs=d["min_pairs"])
                           for m in metrics)
        few = ": too few to decide" if pairs < d["min_pairs"] else ""
        lines.append(f"| {row['arm']} ({pairs} pairs{few}) | {cells} |")
    return "\n".join(lines)


def _test_text(test: dict[str, Any], digits: dict[str, int], labels: dict[str, str], min_pairs: int) -> str:
    return (f"{test['arm']} - {test['baseline']}, {labels[test['metric']]} (expected {test['expect']}): "
            f"{difference_cell(test['difference'], digits[test['metric']], 'no paired runs yet', min_pairs)}")


@SECTIONS.register("ablation-claims")
def ablation_claims(data: Sources) -> str:
    """The paper's claims, each with its paired comparisons and a verdict computed from them."""
    d = _v3(data)
    digits = {m["key"]: m["digits"] for m in d["metrics"]}
    labels = {m["key"]: m["label"] for m in d["metrics"]}
    lines = ["| claim | paired comparison(s), 95% interval | verdict |", "|---|---|---|"]
    for c in d["claims"]:
        numbers = "; ".join(_test_text(t, digits, labels, d["min_pairs"]) for t in c["tests"])
        if "diverged" in c:
            numbers += f"; diverged in {c['diverged'][0]} of {c['diverged'][1]} runs"
        lines.append(f"| {c['claim']} | {numbers} | {c['verdict']} |")
    return "\n".join(lines)
