"""Every leaderboard shows and renders whatever its protocol measures: the default sort comes from the board (its
protocol's first default column, else its first metric in table order) and a sort key it lacks is an error naming
its metrics; each number is printed with the metric catalog's precision, widened so a reported number shows as its
source printed it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import ddmd_bench
from ddmd_bench.cli import main
from ddmd_bench.leaderboard import render, store, table
from ddmd_bench.metrics import catalog
from tests.factories import metric_entry, result_record, unit_protocol

LEADERBOARDS = Path(__file__).resolve().parents[2] / "leaderboards"
BOARDS = sorted(LEADERBOARDS.glob("*.jsonl"))
SENSEFLOW_SDXL = LEADERBOARDS / "paper-senseflow-coco5k-sdxl-v1.jsonl"


def _generator_order(text: str, names: list[str]) -> list[str]:
    """Generator names in the order a table lists them."""
    return sorted(names, key=lambda n: text.index(f"| {n} |") if f"| {n} |" in text else text.index(f"\n{n} "))


def test_every_committed_leaderboard_is_found():
    assert {p.name for p in BOARDS} >= {"toy-v4.jsonl", "paper-senseflow-coco5k-sdxl-v1.jsonl",
                                        "paper-senseflow-coco5k-flux-v1.jsonl", "mlperf-sdxl-5k-gate-v1.jsonl"}


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_show_and_render_succeed_on_every_committed_leaderboard_sorted_by_its_default(path):
    runner = CliRunner()
    shown = runner.invoke(main, ["leaderboard", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    rendered = runner.invoke(main, ["leaderboard", "render", str(path)])
    assert rendered.exit_code == 0, rendered.output
    board = ddmd_bench.Leaderboard.open(path)
    key = board.default_sort
    rows = table.rows(list(board.entries))
    assert key in table.metric_choices(rows) and key not in table.COSTS  # every committed board has a metric
    # the CLI and the API agree, and both sort by the default key
    assert board.text() == shown.output.rstrip("\n") == board.text(key)
    assert board.markdown() == rendered.output.rstrip("\n") == board.markdown(key)
    expected = [r["name"] for r in table.sort_rows(rows, key)]
    assert _generator_order(rendered.output, board.names) == expected
    assert runner.invoke(main, ["leaderboard", "render", str(path), "--format", "html", "--out",
                                "/dev/null"]).exit_code == 0


def test_default_sort_is_the_protocols_first_column_else_the_first_metric_in_table_order():
    assert ddmd_bench.Leaderboard.open(SENSEFLOW_SDXL).default_sort == "fid_t"  # no fid on this board
    assert ddmd_bench.Leaderboard.open(LEADERBOARDS / "toy-v4.jsonl").default_sort == "fid"
    rows = [table.row(result_record(unit_protocol(), metrics={"clip_score": metric_entry(30.0),
                                                              "fid_t": metric_entry(4.0)}))]
    assert table.default_sort(rows, {}) == "fid_t"
    assert table.default_sort(rows, {"columns": ["hpsv21", "clip_score", "fid_t"]}) == "clip_score"
    assert table.default_sort([table.row(result_record(unit_protocol(), metrics={}))], {}) == "name"


def test_the_senseflow_board_ranks_by_fid_t_best_first():
    board = ddmd_bench.Leaderboard.open(SENSEFLOW_SDXL)
    fid_t = {e.record["generator"]["name"]: e.record["metrics"].get("fid_t", {}).get("value") for e in board}
    ranked = sorted((n for n in fid_t if fid_t[n] is not None), key=fid_t.get)
    teachers = [n for n in fid_t if fid_t[n] is None]
    assert ranked[0] == "SDXL-Lightning" and teachers == ["SDXL (80 NFE)"]
    assert _generator_order(board.text(), board.names) == ranked + teachers  # ascending, no FID-T last


def test_a_sort_key_the_board_lacks_is_an_error_listing_its_metrics():
    for command in ("show", "render"):
        out = CliRunner().invoke(main, ["leaderboard", command, str(SENSEFLOW_SDXL), "--sort", "fid"])
        assert out.exit_code != 0
        assert "cannot sort by 'fid': this leaderboard has no such metric (did you mean 'fid_t'?)" in out.output
        assert "Its metrics: fid_t, patch_fid_t, clip_score, image_reward, hpsv2, pickscore" in out.output
    with pytest.raises(ValueError, match="Its metrics: fid_t, patch_fid_t"):
        ddmd_bench.Leaderboard.open(SENSEFLOW_SDXL).markdown(sort_by="fid")


def test_compare_works_on_a_board_without_fid():
    out = CliRunner().invoke(main, ["leaderboard", "compare", str(SENSEFLOW_SDXL), "DMD2-SDXL", "SenseFlow-SDXL",
                                    "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [c["metric"] for c in data["comparisons"]] == \
        ["clip_score", "fid_t", "hpsv2", "image_reward", "patch_fid_t", "pickscore"]
    fid_t = next(c for c in data["comparisons"] if c["metric"] == "fid_t")
    assert fid_t["diff"] == pytest.approx(17.76 - 15.04)


def test_reported_numbers_show_as_their_source_printed_them():
    header, entries = store.read(SENSEFLOW_SDXL)
    md = render.markdown(header, entries)
    teacher = next(line for line in md.splitlines() if "SDXL (80 NFE)" in line)
    # CLIP 0.3293, ImageReward 0.8719, HPSv2 0.293 (0.2824 elsewhere in the column), PickScore 22.67
    assert teacher == "| reported | SDXL (80 NFE) | 80 | - | - | 0.3293 | 0.8719 | 0.2930 | 22.67 | - |"
    page = render.html_page(header, entries)
    assert '"clip_score": "0.3293"' in page and '"sort": "fid_t"' in page


def _rows(values: dict[str, list[float]], origin: str) -> list[dict]:
    n = len(next(iter(values.values())))
    return [{**table.row(result_record(unit_protocol(), metrics={k: metric_entry(v[i]) for k, v in values.items()})),
             "origin": origin} for i in range(n)]


def test_column_precision_comes_from_the_catalog_and_widens_to_reported_digits():
    assert catalog.display_precision("fid") == catalog.Precision(2)
    assert catalog.display_precision("cmmd") == catalog.Precision(4, significant=True)
    assert catalog.display_precision("a paper's own score") is None
    measured = _rows({"clip_score": [0.32934567, 31.5], "cmmd": [0.0123456, 1.5], "error_rate": [0.12345, 1.0]},
                     "measured")
    assert [table.column_format(measured, k) for k in ("clip_score", "cmmd", "error_rate", "nfe", "latency_ms")] == \
        ["{:.2f}", "{:.4g}", "{:.3f}", "{}", "{:.1f}"]
    reported = _rows({"clip_score": [0.3293, 0.323], "cmmd": [0.012345, 1.5], "error_rate": [9.64, 9.7]},
                     "reported")
    both = measured + reported
    assert [table.column_format(both, k) for k in ("clip_score", "cmmd", "error_rate")] == \
        ["{:.4f}", "{:.5g}", "{:.2f}"]
    # a reported number printed with fewer digits than the catalog's keeps the catalog's precision
    assert table.column_format(_rows({"fid": [18.9]}, "reported"), "fid") == "{:.2f}"
    # a number carrying more digits than any paper prints is shown to MAX_DIGITS
    assert table.column_format(_rows({"clip_score": [0.1 + 0.2]}, "reported"), "clip_score") == "{:.8f}"
