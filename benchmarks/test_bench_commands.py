"""Wall time of commands that generate nothing (fresh interpreter each round, imports included), next to `--help`,
and the model backends each one imports: they should answer within a second, which they cannot once torch (or
diffusers, transformers, open_clip) loads on a 2-core machine (tests/unit/test_fast_commands.py checks the imports)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import sidebyside
from ddmd_bench.tracks.toy import protocol_facts

ROOT = Path(__file__).resolve().parents[1]
LEADERBOARD = f"leaderboards/{protocol_facts.NAME}-v{protocol_facts.VERSION}.jsonl"  # the default toy protocol's
COMMANDS = {"methods_list": ["methods", "list"], "methods_show_recipe": ["methods", "show", "dmd2-sdxl-4step"],
            "prompts_list": ["prompts", "list"], "leaderboard_show": ["leaderboard", "show", LEADERBOARD],
            "leaderboard_compare": ["leaderboard", "compare", LEADERBOARD, "0", "1"]}
BACKENDS = ("torch", "diffusers", "transformers", "open_clip", "torchvision", "torchmetrics", "cleanfid", "scipy")
ENV = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}

# Runs the command as `ddmd-bench` does, then names the backends it left loaded.
_WHICH_BACKENDS = """
import json, runpy, sys
sys.argv = ["ddmd-bench", *{args!r}]
try:
    runpy.run_module("ddmd_bench.cli", run_name="__main__")
except SystemExit:
    pass
print("BACKENDS=" + json.dumps([m for m in {backends!r} if m in sys.modules]), file=sys.stderr)
"""


def _run(args):
    return lambda: subprocess.run([sys.executable, "-m", "ddmd_bench.cli", *args], cwd=ROOT, check=True,
                                  capture_output=True, env=ENV)


def backends_imported(args: list[str]) -> list[str]:
    """The model backends a fresh `ddmd-bench <args>` imports."""
    out = subprocess.run([sys.executable, "-c", _WHICH_BACKENDS.format(args=args, backends=BACKENDS)], cwd=ROOT,
                         capture_output=True, text=True, env=ENV, check=True)
    line = next(x for x in out.stderr.splitlines() if x.startswith("BACKENDS="))
    return json.loads(line.removeprefix("BACKENDS="))


@pytest.mark.parametrize("name", COMMANDS)
def test_command_wall_time(benchmark, name):
    sidebyside.compare(f"command_{name}", _run(COMMANDS[name]), _run(["--help"]), rounds=3,
                       baseline="ddmd-bench --help")
    ratio = sidebyside.RATIOS[f"command_{name}"]
    ratio["imports"] = backends_imported(COMMANDS[name])
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(_run(COMMANDS[name]), rounds=1, warmup_rounds=0)
