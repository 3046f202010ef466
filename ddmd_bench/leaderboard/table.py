"""Rows and plain-text tables of result records (Markdown/HTML/plots come with the leaderboard renderer)."""

from __future__ import annotations

import math
from typing import Any

from ddmd_bench.leaderboard.store import Entry

COLUMNS = (  # (key, header, format)
    ("name", "generator", "{}"),
    ("nfe", "NFE", "{}"),
    ("fid", "FID (toy)", "{:.1f}"),
    ("clip_score", "CLIP", "{:.2f}"),
    ("prompt_accuracy", "acc held-in", "{:.3f}"),
    ("prompt_accuracy_heldout", "acc held-out", "{:.3f}"),
    ("latency_ms", "ms/img (b=1)", "{:.1f}"),
)


def row(record: dict[str, Any], origin: str = "measured") -> dict[str, Any]:
    """Flat summary of a record: metric values and CIs, NFE, batch-1 latency, hardware."""
    out: dict[str, Any] = {"name": record["generator"]["name"], "nfe": record["generator"].get("nfe"),
                           "origin": origin}
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


def sort_rows(rows_: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Best first: ascending for FID and latency, descending otherwise; missing values last."""
    if rows_ and key not in rows_[0]:
        raise ValueError(f"cannot sort by {key!r}; columns: {', '.join(k for k in rows_[0] if not k.endswith('_ci'))}")
    ascending = key in ("fid", "latency_ms", "latency_p90_ms", "nfe", "name")
    present = [r for r in rows_ if r.get(key) is not None]
    missing = [r for r in rows_ if r.get(key) is None]
    return sorted(present, key=lambda r: r[key], reverse=not ascending) + missing


def _cell(r: dict[str, Any], key: str, fmt: str) -> str:
    v = r.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    text = fmt.format(v)
    ci = r.get(f"{key}_ci")
    if ci is not None:
        half = (ci[1] - ci[0]) / 2
        text += " ±" + fmt.format(half).strip()
    return text


def render_text(rows_: list[dict[str, Any]], header: dict[str, Any] | None) -> str:
    """Aligned plain-text table (CI shown as ± half-width of the 95% interval)."""
    cols = [(k, h, f) for k, h, f in COLUMNS if any(k in r for r in rows_)] or list(COLUMNS)
    body = [[_cell(r, k, f) for k, _, f in cols] for r in rows_]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, (_, h, _) in enumerate(cols)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line([h for _, h, _ in cols]), line(["-" * w for w in widths])] + [line(b) for b in body]
    if header is not None:
        p = header["protocol"]
        out.insert(0, f"{p['name']} v{p['version']}  fingerprint {header['fingerprint'][:12]}  "
                      f"({len(rows_)} entries; latency: batch-1 median on each entry's own hardware)")
    return "\n".join(out)
