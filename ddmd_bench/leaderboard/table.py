"""Rows and plain-text tables of result records."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import groupby
from typing import Any

from ddmd_bench.leaderboard import reproduction
from ddmd_bench.leaderboard.roles import role_of
from ddmd_bench.leaderboard.store import Entry, Reproduction
from ddmd_bench.metrics import catalog
from ddmd_bench.registry import unknown_name_message

# Known columns in display order (distances to a reference first, then scores): key -> header. Other metrics follow
# under their own names. A metric's number format comes from the metric catalog (`column_format`).
KNOWN = {
    "name": "generator",
    "nfe": "NFE",
    "fid": "FID",
    "fid_t": "FID-T",
    "patch_fid": "patch FID",
    "patch_fid_t": "patch FID-T",
    "clip_score": "CLIP",
    "prompt_accuracy": "acc held-in",
    "prompt_accuracy_heldout": "acc held-out",
    "image_reward": "ImageReward",
    "cmmd": "CMMD",
    "kid": "KID",
    "precision": "precision",
    "recall": "recall",
    "hpsv21": "HPSv2.1",
    "hpsv2": "HPSv2",
    "hpsv3": "HPSv3",
    "pickscore": "PickScore",
    "latency_ms": "ms/img (b=1)",
}
FIXED_FORMATS = {"name": "{}", "nfe": "{}", "latency_ms": "{:.1f}"}  # columns that are not metrics
UNKNOWN_DECIMALS = 3  # a measured metric the catalog does not know
MAX_DIGITS = 8  # a reported number carrying more digits is shown to this many
_NOT_METRICS = {"name", "nfe", "origin", "latency_ms", "latency_p90_ms", "hardware", "reproductions", "hash",
                "higher_is_better", "role"}
COSTS = ("nfe", "latency_ms", "latency_p90_ms")  # columns that are not metrics: costs, so lower is better


def row(record: dict[str, Any], origin: str = "measured") -> dict[str, Any]:
    """Flat summary of a record: metric values and CIs, each metric's direction, NFE, batch-1 latency, hardware,
    and whether the generator is a teacher or a student."""
    out: dict[str, Any] = {"name": record["generator"]["name"], "nfe": record["generator"].get("nfe"),
                           "origin": origin, "role": role_of(record).value,
                           "higher_is_better": {name: catalog.recorded_direction(name, m)
                                                for name, m in record["metrics"].items()}}
    for name, m in record["metrics"].items():
        out[name] = m.get("value") if m.get("status") == "ok" else None
        if m.get("ci_low") is not None:
            out[f"{name}_ci"] = [m["ci_low"], m["ci_high"]]
    lat = record.get("latency", {})
    out["latency_ms"] = lat["median"] * 1000 if "median" in lat else None
    out["latency_p90_ms"] = lat["p90"] * 1000 if "p90" in lat else None
    out["hardware"] = lat.get("device", {}).get("name")
    return out


def rows(entries: list[Entry]) -> list[dict[str, Any]]:
    """Rows of leaderboard entries."""
    return [row(e.record, e.origin) for e in entries]


def _printed_digits(value: float, significant: bool) -> int:
    """Decimals (or significant digits) of a number as stored: for a reported number, as its source printed it, less
    trailing zeros (0.3293 -> 4 decimals, 4 significant)."""
    exponent = Decimal(repr(float(value))).normalize().as_tuple()
    digits = len(exponent.digits) if significant else -exponent.exponent
    return min(max(digits, 0), MAX_DIGITS)


def column_format(rows_: list[dict[str, Any]], key: str) -> str:
    """Number format of column `key`: the metric catalog's precision, widened to the digits of the column's reported
    numbers so that each shows as its source printed it; a metric the catalog does not know shows as printed (three
    decimals when no reported number says)."""
    if key in FIXED_FORMATS:
        return FIXED_FORMATS[key]
    base = catalog.display_precision(key)
    significant = base is not None and base.significant
    printed = [_printed_digits(r[key], significant) for r in rows_ if r.get("origin") == "reported"
               and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    if base is None:
        return f"{{:.{max(printed, default=UNKNOWN_DECIMALS)}f}}"
    return f"{{:.{max([base.digits, *printed])}{'g' if significant else 'f'}}}"


def columns(rows_: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(key, header, format) of every column with a value: known ones in order, other metrics, then latency."""
    def shown(key: str) -> bool:
        return any(r.get(key) is not None or f"{key}_ci" in r for r in rows_)

    keys = {k for r in rows_ for k in r if not k.endswith("_ci")}
    order = [k for k in KNOWN if k in ("name", "nfe") or shown(k)]
    order += [k for k in sorted(keys - set(KNOWN) - _NOT_METRICS) if shown(k)]
    order = [k for k in order if k != "latency_ms"] + [k for k in order if k == "latency_ms"]
    return [(k, KNOWN.get(k, k), column_format(rows_, k)) for k in order]


def metric_choices(rows_: list[dict[str, Any]]) -> list[str]:
    """What `--metrics` accepts for these rows: every column with a value except the generator name."""
    return [k for k, _, _ in columns(rows_) if k != "name"]


def select_columns(rows_: list[dict[str, Any]], metrics: Sequence[str] | None = None,
                   default: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """The columns to show: the generator name and NFE, then `metrics` in the order given (a metric without a value
    in these rows is an error naming the choices), else the protocol's `default` columns that have values, then
    latency; with neither, every column (`columns`)."""
    every = {k: (k, h, f) for k, h, f in columns(rows_)}
    lead = [every[k] for k in ("name", "nfe")]
    if metrics:
        choices = metric_choices(rows_)
        for m in metrics:
            if m not in choices:
                raise ValueError(unknown_name_message("metric", m, choices).replace(
                    "Choices:", "Metrics with values in this leaderboard:"))
        return lead + [every[m] for m in dict.fromkeys(metrics) if m != "nfe"]
    if default:
        chosen = [every[m] for m in default if m in every]
        return lead + chosen + ([every["latency_ms"]] if "latency_ms" in every else [])
    return list(every.values())


def direction_note(rows_: list[dict[str, Any]], cols: list[tuple[str, str, str]]) -> str:
    """'lower is better: FID, CMMD; higher is better: CLIP' for the metric columns shown (costs excluded)."""
    shown = [(h, higher_is_better(rows_, k)) for k, h, _ in cols if k not in ("name",) + COSTS]
    parts = [f"{word} is better: {', '.join(h for h, up in shown if up == better)}"
             for word, better in (("lower", False), ("higher", True)) if any(up == better for _, up in shown)]
    return "; ".join(parts)


def only_metrics(row_: dict[str, Any], metrics: Sequence[str]) -> dict[str, Any]:
    """A row (`row`, `with_reproductions`) keeping only the metrics named (and every field that is not a metric)."""
    metric_keys = set(row_.get("higher_is_better", {}))
    kept = {k: v for k, v in row_.items() if k.removesuffix("_ci") not in metric_keys or k.removesuffix("_ci") in metrics}
    kept["higher_is_better"] = {k: v for k, v in row_.get("higher_is_better", {}).items() if k in metrics}
    return kept


def higher_is_better(rows_: list[dict[str, Any]], key: str) -> bool:
    """Direction of column `key`: costs (NFE, latency) are lower-is-better; a metric's direction is the one its
    records recorded, else the metric registry's; any other column counts as higher-is-better."""
    if key in COSTS:
        return False
    for r in rows_:
        if key in r.get("higher_is_better", {}):
            return r["higher_is_better"][key]
    return catalog.direction(key, default=True)


def default_sort(rows_: list[dict[str, Any]], protocol: Mapping[str, Any]) -> str:
    """The sort key when none is given: the protocol's first default column that these rows have, else their first
    metric in table order (FID, FID-T, ... before scores), else the generator name."""
    metrics = [k for k in metric_choices(rows_) if k not in COSTS]
    return next((k for k in (*(protocol.get("columns") or ()), *metrics) if k in metrics), "name")


def sort_rows(rows_: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Best first (ascending for lower-is-better metrics, latency and NFE; generator names A to Z); missing values
    last. A key no row has is an error naming the metrics these rows have."""
    if rows_ and not any(key in r for r in rows_):
        metrics = [k for k in metric_choices(rows_) if k not in COSTS]
        close = difflib.get_close_matches(key, metrics, n=3, cutoff=0.5)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"cannot sort by {key!r}: this leaderboard has no such metric{hint}. Its metrics: "
                         f"{', '.join(metrics) or 'none'}; or sort by nfe, latency_ms or name")
    ascending = key == "name" or not higher_is_better(rows_, key)
    present = [r for r in rows_ if r.get(key) is not None]
    missing = [r for r in rows_ if r.get(key) is None]
    return sorted(present, key=lambda r: r[key], reverse=not ascending) + missing


def cell(r: dict[str, Any], key: str, fmt: str) -> str:
    """Formatted value with ± half-width of its 95% interval; a bare interval shows as [low, high]."""
    v, ci = r.get(key), r.get(f"{key}_ci")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return f"[{ci[0]:.10g}, {ci[1]:.10g}]" if ci else "-"  # a bare range (e.g. an acceptance gate)
    text = fmt.format(v)
    if ci is not None:
        text += " ±" + fmt.format((ci[1] - ci[0]) / 2).strip()
    return text


def _lines(rows_: list[dict[str, Any]], cols: list[tuple[str, str, str]]) -> list[str]:
    body = [[cell(r, k, f) for k, _, f in cols] for r in rows_]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, (_, h, _) in enumerate(cols)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line([h for _, h, _ in cols]), line(["-" * w for w in widths])] + [line(b) for b in body]


def render_text(rows_: list[dict[str, Any]], header: dict[str, Any] | None,
                metrics: Sequence[str] | None = None) -> str:
    """Aligned table; with a leaderboard header, one block per hardware (latency compares only within one), the
    protocol's default columns unless `metrics` names others, and which direction is better for each."""
    if header is None:
        return "\n".join(_lines(rows_, select_columns(rows_, metrics)))
    p = header["protocol"]
    cols = select_columns(rows_, metrics, p.get("columns") or ())
    out = [f"{p['name']} v{p['version']}  fingerprint {header['fingerprint'][:12]}  ({len(rows_)} entries; "
           "± = half-width of the 95% interval; latency = batch-1 median)"]
    note = direction_note(rows_, cols)
    if note:
        out.append(note)
    keyed = sorted(enumerate(rows_), key=lambda ir: (ir[1].get("hardware") or "", ir[0]))
    for hardware, group in groupby(keyed, key=lambda ir: ir[1].get("hardware") or ""):
        out += ["", f"[{hardware or 'no latency measured'}]"] + _lines([r for _, r in group], cols)
    return "\n".join(out)


def _reproduction_row(original: Entry, item: Reproduction) -> dict[str, Any]:
    found = reproduction.deltas(original.record, item.record) or []
    worst = reproduction.largest(found)
    lat = item.record.get("latency") or {}
    return {"hardware": item.hardware, "latency_ms": lat["median"] * 1000 if "median" in lat else None,
            "created": item.record.get("created"), "hash": item.hash,
            "largest_difference": None if worst is None else
            {"metric": worst.metric, "field": worst.field, "delta": worst.delta, "tolerance": worst.tolerance}}


def with_reproductions(entries: list[Entry], reproductions: list[Reproduction], sort_by: str) -> list[dict[str, Any]]:
    """Sorted rows with each entry's hash and its reproductions: hardware, own latency, and the quality number
    closest to its tolerance."""
    by_hash = {e.hash: e for e in entries}
    found: dict[str, list[dict[str, Any]]] = {}
    for item in reproductions:
        if item.reproduces in by_hash:
            found.setdefault(item.reproduces, []).append(_reproduction_row(by_hash[item.reproduces], item))
    return sort_rows([{**row(e.record, e.origin), "hash": e.hash, "reproductions": found.get(e.hash, [])}
                      for e in entries], sort_by)


def render_reproductions(entries: list[Entry], reproductions: list[Reproduction], where: Any) -> str:
    """Plain-text list of reproductions: which entry, on which hardware, its own latency, closest quality number."""
    by_hash = {e.hash: e for e in entries}
    lines = [f"Reproductions (not ranked; recorded in {where}): quality numbers within the tolerance of the entry "
             f"(max({reproduction.RELATIVE_FLOOR:g} relative, {reproduction.INTERVAL_FRACTION:.0%} of the 95% "
             "interval half-width)); latency measured on their own hardware"]
    for item in reproductions:
        original = by_hash.get(item.reproduces)
        if original is None:
            continue
        r = _reproduction_row(original, item)
        worst = r["largest_difference"]
        closest = "identical quality numbers" if worst is None or worst["delta"] == 0 else \
            f"largest difference {worst['metric']}{'' if worst['field'] == 'value' else ' ' + worst['field']} " \
            f"{worst['delta']:+.3g} (tolerance {worst['tolerance']:.3g})"
        latency = f"{r['latency_ms']:.1f} ms/img" if r["latency_ms"] is not None else "no latency"
        lines.append(f"  {original.record['generator']['name']}  on {r['hardware'] or 'unknown hardware'}: "
                     f"{latency}; {closest}")
    return "\n".join(lines)
