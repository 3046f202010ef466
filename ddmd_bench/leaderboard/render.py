"""Markdown tables and a self-contained static HTML page for a leaderboard file."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from typing import Any

from ddmd_bench.leaderboard import table
from ddmd_bench.leaderboard.plots import render_png
from ddmd_bench.leaderboard.store import Entry


_MARKDOWN_SPECIAL = "\\`*_|$"  # backslash first; '$' would start math on renderers that support it


def _md_escape(text: str) -> str:
    """Text shown literally in a Markdown table cell: HTML-escaped, Markdown and math markers backslashed."""
    out = html.escape(str(text))
    for ch in _MARKDOWN_SPECIAL:
        out = out.replace(ch, "\\" + ch)
    return out


def markdown(header: dict[str, Any], entries: list[Entry], sort_by: str | None = None,
             metrics: Sequence[str] | None = None) -> str:
    """A Markdown table (values with ± half-width of the 95% CI), grouped note on hardware: the protocol's default
    columns, or `metrics`; sorted by `sort_by`, else by the board's default (`table.default_sort`)."""
    rows = table.rows(entries)
    rows = table.sort_rows(rows, sort_by or table.default_sort(rows, header["protocol"]))
    cols = table.select_columns(rows, metrics, header["protocol"].get("columns") or ())
    lines = ["| " + " | ".join(["origin", *(h for _, h, _ in cols), "hardware"]) + " |",
             "|" + "---|" * (len(cols) + 2)]
    for r in rows:
        cells = [r["origin"], *(_md_escape(table.cell(r, k, f)) for k, _, f in cols), _md_escape(r["hardware"] or "-")]
        lines.append("| " + " | ".join(cells) + " |")
    p = header["protocol"]
    # a chosen column set (the user's or the protocol's default) states each metric's direction
    note = f" {table.direction_note(rows, cols)}." if metrics or p.get("columns") else ""
    lines.append(f"\n*{p['name']} v{p['version']}, fingerprint `{header['fingerprint'][:12]}`; ± is the half-width "
                 f"of the 95% interval; latency is the batch-1 median and compares only within one hardware.{note}*")
    return "\n".join(lines)


def _json_for_script(data: Any) -> str:
    # Inside <script type="application/json">, "</script>" or "<!--" in a string would end the element early:
    # escape every "<", ">" and "&" so that no record content can break out and become markup.
    text = json.dumps(data, sort_keys=True, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def html_page(header: dict[str, Any], entries: list[Entry], metrics: Sequence[str] | None = None) -> str:
    """One HTML file: sortable, filterable table, plots inline, badges, each entry's record on demand; every column,
    or `metrics`."""
    rows = table.rows(entries)
    columns = table.select_columns(rows, metrics)
    sort_key = table.default_sort(rows, header["protocol"])
    data = {"columns": [[k, h] for k, h, _ in columns], "rows": rows,
            # each cell as the tables print it (the catalog's precision; reported numbers as their source printed)
            "text": [{k: table.cell(r, k, f) for k, _, f in columns} for r in rows],
            "sort": sort_key, "ascending": sort_key == "name" or not table.higher_is_better(rows, sort_key),
            "lower_is_better": [k for k, _, _ in columns if k != "name" and not table.higher_is_better(rows, k)],
            "records": [e.record for e in entries], "hashes": [e.hash for e in entries]}
    plots = "".join(f'<figure><img alt="{kind} plot" src="data:image/png;base64,'
                    f'{base64.b64encode(render_png(rows, kind)).decode()}"><figcaption>{cap}</figcaption></figure>'
                    for kind, cap in (("latency", "Quality against batch-1 latency; dashed: Pareto front"),
                                      ("steps", "Quality against denoiser evaluations per image")))
    p = header["protocol"]
    title = html.escape(f"ddmd-bench leaderboard: {p['name']} v{p['version']}")
    return _TEMPLATE.format(title=title, fingerprint=html.escape(header["fingerprint"]), n=len(rows), plots=plots,
                            data=_json_for_script(data), protocol=_json_for_script(p))


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-top: .8em; }}
th, td {{ padding: 3px 9px; border-bottom: 1px solid #ddd; text-align: right; }}
th {{ cursor: pointer; background: #f3f3f3; user-select: none; }}
td:first-child, th:first-child {{ text-align: left; }}
.badge {{ font-size: 11px; padding: 1px 6px; border-radius: 8px; color: white; }}
.measured {{ background: #2e7d32; }} .reported {{ background: #8e5b00; }}
pre.record {{ text-align: left; max-width: 1100px; overflow: auto; background: #fafafa; font-size: 11px; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; }} img {{ max-width: 100%; }}
#filter {{ padding: 4px; width: 24em; }}
</style></head>
<body>
<h1>{title}</h1>
<p>Protocol fingerprint <code>{fingerprint}</code>, {n} entries. Click a column to sort; type to filter.
Values: mean ± half-width of the 95% interval. Latency: batch-1 median, comparable only on the same hardware.</p>
<input id="filter" type="search" placeholder="filter rows (any text)" aria-label="filter">
<table id="board"><thead></thead><tbody></tbody></table>
<h2>Plots</h2>{plots}
<h2>Protocol</h2><pre id="protocol" class="record"></pre>
<script type="application/json" id="data">{data}</script>
<script type="application/json" id="protocol-data">{protocol}</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
document.getElementById("protocol").textContent =
  JSON.stringify(JSON.parse(document.getElementById("protocol-data").textContent), null, 1);
const LOWER_BETTER = new Set(DATA.lower_is_better);
let sortKey = DATA.sort, ascending = DATA.ascending, filterText = "";
function cell(index, key) {{
  return DATA.text[index][key];
}}
function render() {{
  const head = document.querySelector("#board thead"), body = document.querySelector("#board tbody");
  head.replaceChildren(); body.replaceChildren();
  const tr = document.createElement("tr");
  for (const [key, label] of [["origin", "origin"], ...DATA.columns, ["hardware", "hardware"]]) {{
    const th = document.createElement("th");
    th.textContent = label + (key === sortKey ? (ascending ? " \\u25b2" : " \\u25bc") : "");
    th.dataset.key = key;
    th.addEventListener("click", () => {{
      ascending = key === sortKey ? !ascending : LOWER_BETTER.has(key) || key === "name";
      sortKey = key; render();
    }});
    tr.appendChild(th);
  }}
  head.appendChild(tr);
  const order = DATA.rows.map((r, i) => i).filter(i =>
    JSON.stringify(DATA.rows[i]).toLowerCase().includes(filterText.toLowerCase()));
  order.sort((i, j) => {{
    const a = DATA.rows[i][sortKey], b = DATA.rows[j][sortKey];
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    return (a < b ? -1 : 1) * (ascending ? 1 : -1);
  }});
  for (const i of order) {{
    const row = DATA.rows[i], r = document.createElement("tr");
    r.dataset.index = i;
    const origin = document.createElement("td"), badge = document.createElement("span");
    badge.className = "badge " + (row.origin === "reported" ? "reported" : "measured");
    badge.textContent = row.origin;
    origin.appendChild(badge); r.appendChild(origin);
    for (const [key] of DATA.columns) {{
      const td = document.createElement("td");
      td.textContent = cell(i, key);
      if (key === "name") {{
        const details = document.createElement("details"), summary = document.createElement("summary");
        summary.textContent = cell(i, key);
        const pre = document.createElement("pre");
        pre.className = "record";
        pre.textContent = JSON.stringify(DATA.records[i], null, 1);
        details.append(summary, pre);
        td.replaceChildren(details);
      }}
      r.appendChild(td);
    }}
    const hw = document.createElement("td"); hw.textContent = row.hardware || "-"; r.appendChild(hw);
    body.appendChild(r);
  }}
}}
document.getElementById("filter").addEventListener("input", e => {{ filterText = e.target.value; render(); }});
render();
</script>
</body></html>
"""
