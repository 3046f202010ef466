"""Help examples name the leaderboard file of the current toy protocol, not an older version's."""

from __future__ import annotations

import re
from pathlib import Path

from ddmd_bench.tracks.toy.track import toy_protocol

CLI = Path(__file__).resolve().parents[2] / "ddmd_bench" / "cli"


def test_help_names_only_the_current_toy_leaderboard():
    current = f"{toy_protocol()[0].slug}.jsonl"
    named = {m for f in sorted(CLI.glob("*.py")) for m in re.findall(r"leaderboards/(toy-v\d+\.jsonl)", f.read_text())}
    assert named == {current}, f"the command line's help names {sorted(named)}; the current toy leaderboard is {current}"
