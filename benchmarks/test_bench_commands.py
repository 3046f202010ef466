"""Wall time of commands that generate nothing (fresh interpreter each round, imports included), next to
`--help`: they should answer about as fast, since no model backend is imported (tests/unit/test_fast_commands.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import sidebyside

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"methods_list": ["methods", "list"], "methods_show_recipe": ["methods", "show", "dmd2-sdxl-4step"],
            "prompts_list": ["prompts", "list"], "leaderboard_show": ["leaderboard", "show", "leaderboards/toy-v3.jsonl"]}


def _run(args):
    return lambda: subprocess.run([sys.executable, "-m", "ddmd_bench.cli", *args], cwd=ROOT, check=True,
                                  capture_output=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("name", COMMANDS)
def test_command_wall_time(benchmark, name):
    ratio = sidebyside.compare(f"command_{name}", _run(COMMANDS[name]), _run(["--help"]), rounds=3,
                               baseline="ddmd-bench --help")
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(_run(COMMANDS[name]), rounds=1, warmup_rounds=0)
