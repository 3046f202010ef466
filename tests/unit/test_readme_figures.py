"""README.md, CONTRIBUTING.md and docs/ state only figures generated from committed data (`report readme`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.report import markers
from ddmd_bench.report.lint import unmarked_measurements
from ddmd_bench.report.readme import markdown_files, regenerate
from ddmd_bench.report.registry import load_sections
from ddmd_bench.report.sources import ReportError, Sources

ROOT = Path(__file__).resolve().parents[2]
# Written by `ddmd-bench ablation report` itself; checked against the same data below.
MACHINE_WRITTEN = {"docs/ablation/table.md"}


def test_committed_markdown_matches_the_data():
    changes = regenerate(ROOT, write=False)
    assert not changes, ("".join(c.diff(ROOT) for c in changes)
                         + "\nfigures differ from the data: run `ddmd-bench report readme` and commit the result")


def test_no_measurement_is_typed_by_hand_outside_generated_blocks():
    found = [str(f) for p in markdown_files(ROOT) if str(p.relative_to(ROOT)) not in MACHINE_WRITTEN
             for f in unmarked_measurements(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert not found, "\n".join(found)


def test_ablation_table_file_matches_its_results():
    built = load_sections().get("ablation-table")(Sources(ROOT))
    assert (ROOT / "docs/ablation/table.md").read_text(encoding="utf-8") == built + "\n"


def test_every_registered_section_is_used():
    used = {b.name for p in markdown_files(ROOT) for b in markers.blocks(p.read_text(encoding="utf-8"), str(p))}
    assert set(load_sections().names()) <= used, set(load_sections().names()) - used


# ------------------------------------------------------------------------------------- a small copy of the repo

DATA = ("leaderboards", "ddmd_bench/tracks/toy/weights/manifest.json", "docs/ablation/results.json",
        "docs/image-reward-parity.json")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    for item in DATA:
        src, dst = ROOT / item, tmp_path / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
        else:
            shutil.copy(src, dst)
    (tmp_path / "README.md").write_text("# x\n\nBefore.\n\n<!-- generated:image-reward-parity -->\n"
                                        "<!-- /generated:image-reward-parity -->\n\n<!-- generated:toy-leaderboard -->"
                                        "\nstale\n<!-- /generated:toy-leaderboard -->\nAfter.\n", encoding="utf-8")
    regenerate(tmp_path)
    return tmp_path


def test_regenerating_fills_the_blocks_and_keeps_the_rest(repo):
    text = (repo / "README.md").read_text(encoding="utf-8")
    assert text.startswith("# x\n\nBefore.\n\n<!-- generated:image-reward-parity -->\nResult (")
    assert text.endswith("<!-- /generated:toy-leaderboard -->\nAfter.\n")
    assert "stale" not in text and "| toy-teacher/euler-50/cfg3 |" in text
    assert regenerate(repo, write=False) == []


def test_a_number_edited_by_hand_fails_the_check(repo):
    readme = repo / "README.md"
    good = readme.read_text(encoding="utf-8")
    row = next(line for line in good.splitlines() if "toy-teacher/euler-50/cfg3" in line)
    readme.write_text(good.replace(row, row.replace("| 100 |", "| 99 |")), encoding="utf-8")
    [change] = regenerate(repo, write=False)
    assert change.path == readme and change.new == good
    diff = change.diff(repo)
    assert "-" + row.replace("| 100 |", "| 99 |") in diff and "+" + row in diff


def test_changed_data_fails_the_check_until_regenerated(repo):
    parity = repo / "docs/image-reward-parity.json"
    record = json.loads(parity.read_text())
    record["max_abs_difference"] = 0.25
    parity.write_text(json.dumps(record))
    [change] = regenerate(repo, write=False)
    assert "max |difference| 0**" in change.old and "max |difference| 0.25**" in change.new
    regenerate(repo)
    assert regenerate(repo, write=False) == []


def test_cli_check_exits_1_with_a_diff_and_writes_nothing(repo):
    readme = repo / "README.md"
    stale = readme.read_text(encoding="utf-8").replace("bit-identical", "close")
    readme.write_text(stale, encoding="utf-8")
    result = CliRunner().invoke(main, ["report", "readme", "--check", "--root", str(repo)])
    assert result.exit_code == 1
    assert "-Result" in result.output and "README.md" in result.output and "ddmd-bench report readme" in result.output
    assert readme.read_text(encoding="utf-8") == stale
    assert CliRunner().invoke(main, ["report", "readme", "--root", str(repo)]).exit_code == 0
    ok = CliRunner().invoke(main, ["report", "readme", "--check", "--root", str(repo)])
    assert ok.exit_code == 0 and "match the data" in ok.output


def test_missing_data_file_is_named(repo):
    (repo / "docs/image-reward-parity.json").unlink()
    with pytest.raises(ReportError, match=r"README.md:5: section 'image-reward-parity': .*image-reward-parity.json"):
        regenerate(repo, write=False)


@pytest.mark.parametrize("text, message", [
    ("<!-- generated:nope -->\n<!-- /generated:nope -->\n", r"x.md:1: section 'nope': unknown generated section"),
    ("<!-- generated:a -->\n", r"x.md:1: block 'a' is never closed"),
    ("<!-- /generated:a -->\n", r"x.md:1: closing marker for 'a' without a matching opening"),
    ("<!-- generated:a -->\n<!-- generated:b -->\n", r"x.md:2: block 'b' opens inside block 'a'"),
    ("<!-- generated:a --> trailing\n", r"x.md:1: malformed marker"),
])
def test_broken_markers_name_the_file_and_line(text, message):
    sections = load_sections()

    def build(name: str) -> str:
        try:
            return sections.get(name)(Sources(ROOT))
        except KeyError as exc:
            raise ReportError(str(exc)) from None

    with pytest.raises(ReportError, match=message):
        markers.rewrite(text, "x.md", build)


def test_lint_finds_hand_typed_measurements_but_not_code_or_versions():
    text = ("took 113 s and 0.953 accuracy, FID 12 ±3, 1.6x faster\n"
            "`ema_decay=0.998` transformers 4.55.4, Python >= 3.10\n```\n0.999 in code\n```\n"
            "<!-- generated:a -->\n0.123\n<!-- /generated:a -->\n")
    assert [f.text for f in unmarked_measurements(text, "x.md")] == ["±", "0.953", "113 s", "1.6x"]


@pytest.mark.parametrize("name", load_sections().names())
def test_sections_leave_no_unfilled_template(name):
    text = load_sections().get(name)(Sources(ROOT))
    assert text.strip() and "{" not in text and "}" not in text, text


def test_leaderboard_commands_follow_the_newest_toy_board(repo):
    build = load_sections().get("toy-leaderboard-commands")
    (repo / "docs").mkdir(exist_ok=True)
    newest = max((p.stem for p in (repo / "leaderboards").glob("toy-v*.jsonl")
                  if not p.stem.endswith(".reproductions")), key=lambda s: int(s.removeprefix("toy-v")))
    for kind in ("latency", "steps"):
        (repo / f"docs/{newest}-{kind}.png").write_bytes(b"png")
    text = build(Sources(repo))
    assert f"ddmd-bench leaderboard show leaderboards/{newest}.jsonl --sort prompt_accuracy" in text
    assert f"(docs/{newest}-steps.png)" in text
    shutil.copy(repo / f"leaderboards/{newest}.jsonl", repo / "leaderboards/toy-v9.jsonl")
    with pytest.raises(ReportError, match=r"toy-v9-latency.png is missing: .*leaderboard render "
                                          r"leaderboards/toy-v9.jsonl --format png"):
        build(Sources(repo))
