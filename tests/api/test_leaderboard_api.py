"""`ddmd_bench.Leaderboard` reads, filters, compares and renders a leaderboard file as the `leaderboard` commands
do."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import ddmd_bench
from ddmd_bench.cli import main
from ddmd_bench.leaderboard import compare, store
from tests import factories as T


def _board(tmp_path):
    protocol = T.unit_protocol()
    per_sample = {"a": [0.1, 0.4, 0.3, 0.2], "b": [0.5, 0.6, 0.7, 0.9]}
    for name, nfe, value, origin in (("toy-teacher/euler-25/cfg3", 50, 3.0, "measured"),
                                     ("toy-ddmd-4step", 4, 5.0, "measured"),
                                     ("paper-student", 1, 4.0, "reported")):
        metrics = {"fid": T.metric_entry(value, (value - 1, value + 1), higher_is_better=False),
                   "clip_score": T.metric_entry(value, (value - 0.5, value + 0.5), higher_is_better=True,
                                                per_sample=per_sample["a" if nfe == 50 else "b"])}
        store.append(tmp_path, protocol, T.result_record(protocol, generator={"name": name, "nfe": nfe},
                                                         metrics=metrics), origin=origin)
    return store.path_for(tmp_path, protocol)


def test_open_filter_and_look_up_entries(tmp_path):
    board = ddmd_bench.Leaderboard.open(_board(tmp_path))
    assert len(board) == 3 and board.protocol["name"] == "unit"
    assert board.names == ["toy-teacher/euler-25/cfg3", "toy-ddmd-4step", "paper-student"]
    assert board.filter(name="toy-*").names == ["toy-teacher/euler-25/cfg3", "toy-ddmd-4step"]
    assert board.filter(max_nfe=4).names == ["toy-ddmd-4step", "paper-student"]
    assert board.filter(origin="reported").names == ["paper-student"]
    assert board.filter(lambda e: e.record["metrics"]["fid"]["value"] < 4.5, origin="measured").names == \
        ["toy-teacher/euler-25/cfg3"]
    assert len(board) == 3  # filtering returns a new board
    assert board.entry(1) is board.entry("toy-ddmd-4step") is board.entry(board.entries[1].hash[:10])
    with pytest.raises(KeyError, match="did you mean 'toy-ddmd-4step'"):
        board.entry("toy-ddmd-4stp")
    assert [r["name"] for r in board.rows(sort_by="fid")] == \
        ["toy-teacher/euler-25/cfg3", "paper-student", "toy-ddmd-4step"]


def test_compare_and_render_as_the_commands(tmp_path):
    path = _board(tmp_path)
    board = ddmd_bench.Leaderboard.open(path)
    comparisons = board.compare("toy-teacher/euler-25/cfg3", 1)
    assert comparisons == compare.compare_records(board.entries[0].record, board.entries[1].record)
    clip = next(c for c in comparisons if c.metric == "clip_score")
    assert clip.method.startswith("paired bootstrap") and clip.diff == pytest.approx(0.425)
    rendered = CliRunner().invoke(main, ["leaderboard", "render", str(path), "--sort", "clip_score"])
    assert rendered.exit_code == 0, rendered.output
    assert board.markdown(sort_by="clip_score") == rendered.output.rstrip("\n")
    shown = CliRunner().invoke(main, ["leaderboard", "show", str(path)])
    assert board.text() == shown.output.rstrip("\n")
    assert "<table" in board.html() or "<html" in board.html()


def test_a_damaged_file_is_refused_with_its_line(tmp_path):
    path = _board(tmp_path)
    lines = path.read_text().splitlines()
    edited = json.loads(lines[2])
    edited["record"]["metrics"]["fid"]["value"] = 1.0  # a better number, written in by hand
    path.write_text("\n".join([*lines[:2], json.dumps(edited), *lines[3:]]) + "\n")
    with pytest.raises(store.LeaderboardError, match=r":3: .*hash mismatch"):
        ddmd_bench.Leaderboard.open(path)
