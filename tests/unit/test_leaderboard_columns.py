"""Leaderboards with many metrics stay readable: `--metrics a,b,c` picks the columns (names checked against the
file), a protocol declares its default columns (display only: not in its fingerprint), and each column's direction
comes from the metric registry."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.leaderboard import render, store, table
from tests.factories import metric_entry, result_record, unit_protocol

METRICS = {"fid": 10.0, "fid_t": 3.0, "cmmd": 0.25, "kid": 0.01, "clip_score": 30.0, "recall": 0.5}


def _protocol(columns=()):
    return unit_protocol(metrics={name: {"implementation": "x"} for name in METRICS}, columns=tuple(columns))


def _board(tmp_path, columns=()):
    protocol = _protocol(columns)
    for i, name in enumerate(("a", "b")):
        metrics = {k: metric_entry(v + i) for k, v in METRICS.items()}
        store.append(tmp_path, protocol, result_record(protocol, generator={"name": name, "nfe": 4},
                                                       metrics=metrics))
    return store.path_for(tmp_path, protocol)


def _header_keys(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("generator"))
    return line.split()


def test_default_columns_are_display_only_and_kept_out_of_the_fingerprint():
    plain, shown = _protocol(), _protocol(("fid_t", "fid"))
    assert plain.fingerprint == shown.fingerprint
    assert "columns" not in plain.to_dict() and shown.to_dict()["columns"] == ["fid_t", "fid"]


def test_select_columns_explicit_default_and_all():
    rows = [table.row(result_record(_protocol(), metrics={k: metric_entry(v) for k, v in METRICS.items()}))]
    keys = lambda cols: [k for k, _, _ in cols]  # noqa: E731
    assert keys(table.select_columns(rows, ("recall", "fid_t"))) == ["name", "nfe", "recall", "fid_t"]
    assert keys(table.select_columns(rows, None, ("fid_t", "cmmd", "hpsv21"))) == \
        ["name", "nfe", "fid_t", "cmmd", "latency_ms"]  # a default column without values is left out
    assert keys(table.select_columns(rows)) == keys(table.columns(rows))
    with pytest.raises(ValueError, match=r"unknown metric 'fidt'; did you mean 'fid_t' or 'fid'.*Metrics with "
                                         r"values in this leaderboard: nfe, fid, fid_t, clip_score"):
        table.select_columns(rows, ("fidt",))


def test_directions_come_from_the_metric_registry():
    rows = [table.row(result_record(_protocol(), metrics={k: metric_entry(v) for k, v in METRICS.items()}))]
    cols = table.select_columns(rows, ("fid_t", "clip_score", "cmmd", "recall", "latency_ms"))
    assert table.direction_note(rows, cols) == ("lower is better: FID-T, CMMD; higher is better: CLIP, recall")


def test_show_uses_the_protocol_default_columns_and_metrics_overrides_them(tmp_path):
    path = _board(tmp_path, columns=("fid_t", "clip_score"))
    out = CliRunner().invoke(main, ["leaderboard", "show", str(path)])
    assert out.exit_code == 0, out.output
    assert _header_keys(out.output) == ["generator", "NFE", "FID-T", "CLIP", "ms/img", "(b=1)"]
    assert "lower is better: FID-T; higher is better: CLIP" in out.output

    out = CliRunner().invoke(main, ["leaderboard", "show", str(path), "--metrics", "kid,recall", "--sort", "kid"])
    assert out.exit_code == 0, out.output
    assert _header_keys(out.output) == ["generator", "NFE", "KID", "recall"]
    lines = out.output.splitlines()
    assert lines.index(next(s for s in lines if s.startswith("a "))) < lines.index(next(s for s in lines
                                                                                        if s.startswith("b ")))

    out = CliRunner().invoke(main, ["leaderboard", "show", str(path), "--metrics", "recall", "--json"])
    rows = json.loads(out.output)
    assert [r["name"] for r in rows] == ["a", "b"] or [r["name"] for r in rows] == ["b", "a"]
    assert all("recall" in r and "fid" not in r and r["higher_is_better"] == {"recall": True} for r in rows)


def test_unknown_or_empty_metric_names_are_clear_errors(tmp_path):
    path = _board(tmp_path)
    out = CliRunner().invoke(main, ["leaderboard", "show", str(path), "--metrics", "fid,pickscore"])
    assert out.exit_code != 0
    assert "unknown metric 'pickscore'" in out.output and "Metrics with values in this leaderboard" in out.output
    out = CliRunner().invoke(main, ["leaderboard", "render", str(path), "--metrics", "fid,,kid"])
    assert out.exit_code == 2 and "empty metric name" in out.output


def test_render_markdown_and_html_follow_the_chosen_columns(tmp_path):
    path = _board(tmp_path, columns=("fid", "cmmd"))
    header, entries = store.read(path)
    md = render.markdown(header, entries)
    assert md.splitlines()[0] == "| origin | generator | NFE | FID | CMMD | ms/img (b=1) | hardware |"
    assert "lower is better: FID, CMMD." in md
    md = render.markdown(header, entries, metrics=("recall",))
    assert md.splitlines()[0] == "| origin | generator | NFE | recall | hardware |"
    page = render.html_page(header, entries, metrics=("kid", "fid_t"))
    assert '"columns": [["name", "generator"], ["nfe", "NFE"], ["kid", "KID"], ["fid_t", "FID-T"]]' in page
    out = CliRunner().invoke(main, ["leaderboard", "render", str(path), "--metrics", "clip_score,fid"])
    assert out.exit_code == 0 and out.output.splitlines()[0] == "| origin | generator | NFE | CLIP | FID | hardware |"
