"""Command examples that name the current toy leaderboard file and its plots, so the guide follows a protocol
version bump without an edit: the file is the highest `leaderboards/toy-v*.jsonl`, the entries are the teacher's
rows the toy findings are built on."""

from __future__ import annotations

from pathlib import PurePosixPath

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import ReportError, Sources
from ddmd_bench.report.toy import PROTOCOL, teacher

PLOTS_DIR = "docs"  # where `leaderboard render --format png` writes the committed plots
PLOTS = (("latency", "quality vs latency, with the Pareto front"), ("steps", "quality vs steps"))


@SECTIONS.register("toy-leaderboard-commands")
def toy_leaderboard_commands(data: Sources) -> str:
    """show / compare / render on the current toy leaderboard, then links to its committed plots."""
    board = data.leaderboard_file(PROTOCOL)
    a, b = teacher(50, guided=False), teacher(50, guided=True)
    missing = [name for name in (a, b) if name not in data.records(PROTOCOL)]
    if missing:
        raise ReportError(f"{data.root / board}: no measured entry {missing[0]!r} for the compare example")
    stem = PurePosixPath(board).stem
    plots = []
    for kind, what in PLOTS:
        png = f"{PLOTS_DIR}/{stem}-{kind}.png"
        if not (data.root / png).is_file():  # a dead link fails the check
            raise ReportError(f"{data.root / png} is missing: render the plots of the current toy leaderboard with "
                              f"`ddmd-bench leaderboard render {board} --format png --out {PLOTS_DIR}/`")
        plots.append(f"[{what}]({png})")
    return "\n".join([
        "```bash",
        f"ddmd-bench leaderboard show {board} --sort prompt_accuracy",
        f"ddmd-bench leaderboard compare {board} {a} {b}",
        f"ddmd-bench leaderboard render {board} --format html --out {PLOTS_DIR}/leaderboard.html",
        f"ddmd-bench leaderboard render {board} --format png --out {PLOTS_DIR}/",
        "```",
        "",
        f"The plots of `{board}`: {' and '.join(plots)}.",
    ])
