"""`--json` on the commands that print results: validate, import, render and prompts show print one JSON document
with what the text output says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.tracks.toy.protocol_facts import LEADERBOARD_FILE

BOARD = Path(__file__).resolve().parents[2] / "leaderboards" / LEADERBOARD_FILE


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_validate_json_lists_files_and_problems(tmp_path):
    good = _run("leaderboard", "validate", "--json", str(BOARD))
    assert good.exit_code == 0, good.output
    out = json.loads(good.stdout)
    assert out["problems"] == 0 and out["files"][0]["path"] == str(BOARD) and out["files"][0]["valid"] > 0
    bad = tmp_path / LEADERBOARD_FILE
    shutil.copyfile(BOARD, bad)
    with bad.open("a") as fp:
        fp.write("{not json\n")
    broken = _run("leaderboard", "validate", "--json", str(bad))
    assert broken.exit_code == 1
    report = json.loads(broken.stdout)
    assert report["problems"] == 1 and len(report["files"][0]["problems"]) == 1
    assert report["files"][0]["valid"] == out["files"][0]["valid"]


def test_render_json_gives_the_text_or_the_files_written(tmp_path):
    text = _run("leaderboard", "render", str(BOARD))
    as_json = json.loads(_run("leaderboard", "render", str(BOARD), "--json").stdout)
    assert as_json == {"format": "markdown", "text": text.stdout.rstrip("\n")}
    out = tmp_path / "board.md"
    written = json.loads(_run("leaderboard", "render", str(BOARD), "--out", str(out), "--json").stdout)
    assert written == {"format": "markdown", "written": [str(out)]} and out.read_text() == text.stdout


def test_import_json_counts_what_each_file_gained(tmp_path):
    first = json.loads(_run("leaderboard", "import", "--reported", "--dir", str(tmp_path), "--json").stdout)
    assert first["files"] and all(f["added"] == f["records"] > 0 for f in first["files"])
    assert {Path(f["leaderboard"]).parent for f in first["files"]} == {tmp_path}
    again = json.loads(_run("leaderboard", "import", "--reported", "--dir", str(tmp_path), "--json").stdout)
    assert all(f["added"] == 0 for f in again["files"])  # append-only: nothing twice


def test_prompts_show_json_has_seeds_and_prompts():
    text = _run("prompts", "show", "toy", "--limit", "5").stdout.splitlines()
    out = json.loads(_run("prompts", "show", "toy", "--limit", "5", "--json").stdout)
    assert out["protocol"] == "toy-n5" and len(out["fingerprint"]) == 64
    assert [f"{p['seed']}\t{p['prompt']}" for p in out["prompts"]] == text
