"""`ddmd-bench leaderboard`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from ddmd_bench.cli._app import _fail, current_toy_board, main
from ddmd_bench.registry import unknown_name_message


@main.group()
@current_toy_board
def leaderboard() -> None:
    """Inspect and validate leaderboard files (one per protocol version, append-only).

    \b
    Examples:
      ddmd-bench leaderboard show {toy_board} --sort prompt_accuracy
      ddmd-bench leaderboard validate leaderboards/
    """


def _metric_list(ctx, param, value: str | None) -> tuple[str, ...] | None:
    """'fid,clip_score' -> ('fid', 'clip_score'); which names exist is checked against the file once it is read."""
    if value is None:
        return None
    names = tuple(n.strip() for n in value.split(","))
    if not all(names):
        raise click.BadParameter(f"{value!r}: an empty metric name; write names separated by commas, e.g. "
                                 "fid,clip_score", ctx=ctx, param=param)
    return names


_METRICS_HELP = ("Columns to show, comma-separated, in this order (e.g. fid,fid_t,clip_score): any metric with "
                 "values in the file, nfe or latency_ms; an unknown name is an error listing them. Default: the "
                 "protocol's default columns (every metric where it declares none).")

_SORT_HELP = ("Metric to sort by, best first (nfe, latency_ms and name also work); a metric the file lacks is an "
              "error listing those it has. Default: the protocol's first default column, else the file's first "
              "metric in table order (FID, FID-T, patch FID, then scores)")


@leaderboard.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sort", "sort_by", default=None, metavar="METRIC", help=_SORT_HELP)
@click.option("--metrics", callback=_metric_list, default=None, metavar="A,B,C", help=_METRICS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print entries as JSON.")
@current_toy_board
def leaderboard_show(path, sort_by, metrics, as_json) -> None:
    """Print a leaderboard as a table sorted by a metric.

    \b
    Examples:
      ddmd-bench leaderboard show {toy_board} --sort prompt_accuracy
      ddmd-bench leaderboard show {toy_board} --metrics fid,fid_t,cmmd,recall --sort fid_t
    """
    from ddmd_bench.leaderboard import store, table

    try:
        header, entries = _readable_entries(path)
        reproductions, problems = store.read_reproductions(path, entries)
        _warn_skipped(problems)
        rows = table.rows(entries)
        sort_by = sort_by or table.default_sort(rows, header["protocol"])
        rows = table.sort_rows(rows, sort_by)
        text = table.render_text(rows, header, metrics)  # checks the metric names, --json or not
    except (store.LeaderboardError, ValueError) as exc:
        raise _fail(exc) from exc
    if as_json:
        listed = table.with_reproductions(entries, reproductions, sort_by)
        click.echo(json.dumps([table.only_metrics(r, metrics) for r in listed] if metrics else listed, indent=1))
    else:
        click.echo(text)
        if reproductions:
            click.echo("\n" + table.render_reproductions(entries, reproductions, store.reproductions_path(path)))


def _readable_entries(path: Path):
    """(header, entries) of a leaderboard, skipping each bad entry line with a warning that names it; an unusable
    header is an error."""
    from ddmd_bench.leaderboard import store

    scanned = store.scan(path)
    if scanned.header is None:
        raise store.LeaderboardError("; ".join(str(p) for p in scanned.problems))
    _warn_skipped(scanned.problems)
    return scanned.header, scanned.entries


def _warn_skipped(problems) -> None:
    for problem in problems:
        click.echo(f"warning: skipped {problem} (`ddmd-bench leaderboard validate` checks a whole file)", err=True)


def _entry_by_ref(entries, ref: str):
    """An entry by index (0-based), hash prefix or exact generator name."""
    if ref.isdigit() and int(ref) < len(entries):
        return entries[int(ref)]
    matches = [e for e in entries if e.hash.startswith(ref) or e.record["generator"]["name"] == ref]
    if len(matches) != 1:
        names = [e.record["generator"]["name"] for e in entries]
        problem = "ambiguous" if matches else "unknown"
        raise click.ClickException(unknown_name_message("entry", ref, names).replace("unknown", problem, 1)
                                   + " (or use an index or a hash prefix)")
    return matches[0]


@leaderboard.command("compare")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("entry_a")
@click.argument("entry_b")
@click.option("--fail-on", "gates", multiple=True, metavar="METRIC:LIMIT",
              help="Exit 1 if B is worse than A by more than LIMIT: absolute (fid:+0.5) or relative "
                   "(latency.p50:5%). Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@current_toy_board
def leaderboard_compare(path, entry_a, entry_b, gates, as_json) -> None:
    """Test whether entry B differs from entry A: paired bootstrap over per-prompt scores, FID intervals.

    Entries are named by generator name, index or hash prefix.

    \b
    Examples:
      ddmd-bench leaderboard compare {toy_board} toy-teacher/euler-50/nocfg toy-teacher/euler-50/cfg3
      ddmd-bench leaderboard compare {toy_board} 0 1 --fail-on fid:+0.5 --fail-on latency.p50:5%
    """
    from ddmd_bench.leaderboard import compare, store

    try:
        parsed = [compare.Gate.parse(g) for g in gates]
        _, entries = store.read(path)
        a, b = _entry_by_ref(entries, entry_a), _entry_by_ref(entries, entry_b)
        results = compare.compare_records(a.record, b.record)
        failures = [m for g in parsed if (m := g.check(a.record, b.record))]
    except (store.LeaderboardError, ValueError, KeyError) as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps({"a": a.record["generator"]["name"], "b": b.record["generator"]["name"],
                               "comparisons": [asdict(c) for c in results], "gate_failures": failures}, indent=1))
    else:
        click.echo(f"A = {a.record['generator']['name']}\nB = {b.record['generator']['name']}\n")
        for c in results:
            interval = f"[{c.low:+.4g}, {c.high:+.4g}]" if c.low is not None else ""
            diff = f"{c.diff:+.4g}" if c.diff is not None else "n/a"
            click.echo(f"{c.metric:26s} B-A {diff:>10s} {interval:24s} {c.verdict}  ({c.method})")
        for f in failures:
            click.echo(f"GATE FAILED  {f}")
    if failures:
        sys.exit(1)


@leaderboard.command("render")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["markdown", "html", "png"]), default="markdown",
              show_default=True, help="Markdown table, self-contained HTML page, or PNG plots.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output file (html, markdown) or folder (png). Default: stdout for markdown.")
@click.option("--sort", "sort_by", default=None, metavar="METRIC", help=_SORT_HELP + " (the Markdown table).")
@click.option("--metrics", callback=_metric_list, default=None, metavar="A,B,C",
              help=_METRICS_HELP + " The HTML page shows every column unless given.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: the files written, or the rendered text when nothing is written.")
@current_toy_board
def leaderboard_render(path, fmt, out, sort_by, metrics, as_json) -> None:
    """Render a leaderboard as a Markdown table, an HTML page (sortable, filterable, offline) or PNG plots.

    \b
    Examples:
      ddmd-bench leaderboard render {toy_board} > table.md
      ddmd-bench leaderboard render {toy_board} --metrics fid,fid_t,cmmd,kid,recall
      ddmd-bench leaderboard render {toy_board} --format html --out docs/leaderboard.html
      ddmd-bench leaderboard render {toy_board} --format png --out docs/
    """
    from ddmd_bench.leaderboard import plots, render, store, table

    try:
        header, entries = _readable_entries(path)
        if fmt == "markdown":
            text = render.markdown(header, entries, sort_by, metrics)
        elif fmt == "html":
            text = render.html_page(header, entries, metrics)
        else:
            if metrics:
                raise ValueError("--metrics chooses table columns; the PNG plots always draw every quality metric")
            written = plots.write_pngs(table.rows(entries), out or Path("."), path.stem)
            click.echo(json.dumps({"format": fmt, "written": [str(p) for p in written]}, indent=1) if as_json
                       else "\n".join(str(p) for p in written))
            return
    except (store.LeaderboardError, ValueError) as exc:
        raise _fail(exc) from exc
    if out is None:
        click.echo(json.dumps({"format": fmt, "text": text}, indent=1) if as_json else text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(json.dumps({"format": fmt, "written": [str(out)]}, indent=1) if as_json else str(out))


@leaderboard.command("import")
@click.option("--reported", "builtin", is_flag=True,
              help="Import the built-in published numbers (Decoupled DMD Table 2, DMD2 zoo, MLPerf gate, SenseFlow "
                   "Table 1).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboards"),
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was added, per leaderboard file, as JSON.")
def leaderboard_import(builtin, directory, as_json) -> None:
    """Add published results as `reported` entries, each under its own paper protocol (never mixed).

    \b
    Example:
      ddmd-bench leaderboard import --reported
    """
    from ddmd_bench.leaderboard import store
    from ddmd_bench.tracks.literature import reported

    if not builtin:
        raise click.UsageError("say what to import: --reported")
    files = []
    for protocol, records in reported.reported_sets():
        added = sum(store.append(directory, protocol, r, origin="reported") for r in records)
        files.append({"leaderboard": str(store.path_for(directory, protocol)), "added": added,
                      "records": len(records)})
        if not as_json:
            click.echo(f"{files[-1]['leaderboard']}: {added} new of {len(records)}")
    if as_json:
        click.echo(json.dumps({"files": files}, indent=1))


@leaderboard.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print every checked file and problem as JSON.")
def leaderboard_validate(paths, as_json) -> None:
    """Check every header, fingerprint, entry hash and number (no NaN or infinity) of each leaderboard and its
    reproductions file; list every problem as FILE:LINE: WHAT and exit 1 if there is any.

    \b
    Example:
      ddmd-bench leaderboard validate leaderboards/
    """
    from ddmd_bench.leaderboard import validate

    report = validate.validate_paths(paths or (Path("leaderboards"),))
    if as_json:
        click.echo(json.dumps({
            "files": [{"path": str(f.path), "kind": f.kind, "valid": f.valid, "problems": [str(p) for p in f.problems]}
                      for f in report.files],
            "empty_folders": [str(d) for d in report.missing], "problems": len(report.problems)}, indent=1))
        if report.problems:
            sys.exit(1)
        return
    for line in report.lines():
        click.echo(line)
    if report.problems:
        raise click.ClickException(report.summary())
