"""Commands that generate nothing must not import the heavy model backends: each one's code path runs in a fresh
interpreter, which then reports what it imported (timings are in benchmarks/test_bench_commands.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ddmd_bench.tracks.toy.protocol_facts import LEADERBOARD_FILE

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "diffusers", "transformers", "open_clip", "torchmetrics", "matplotlib", "cleanfid")

_PROBE = """
import contextlib, io, json, sys
from ddmd_bench.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:], standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise
print(json.dumps(sorted(m for m in sys.modules if '.' not in m)))
"""

COMMANDS = [
    ["--help"],
    ["methods", "list"],
    ["methods", "show", "dmd2-sdxl-4step"],
    ["prompts", "list"],
    ["leaderboard", "show", f"leaderboards/{LEADERBOARD_FILE}"],
    ["leaderboard", "compare", f"leaderboards/{LEADERBOARD_FILE}", "1", "2"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_listing_commands_do_not_import_model_backends(args):
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=ROOT, capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "ddmd_bench" in loaded  # the probe really ran the command
    assert not loaded & set(HEAVY), f"`ddmd-bench {' '.join(args)}` imported {sorted(loaded & set(HEAVY))}"


def test_the_toy_protocols_listing_matches_the_built_protocol():
    """`prompts list` describes the toy protocol without building it (no torch); what it says must be what the
    built protocol is."""
    from ddmd_bench.protocols import describe, get_protocol
    from ddmd_bench.tracks.toy import world

    protocol, _ = get_protocol("toy")
    listed = describe("toy")
    assert listed["resolution"] == protocol.resolution == world.RESOLUTION
    assert (listed["name"], listed["version"], listed["track"]) == (protocol.name, protocol.version, protocol.track)
    assert listed["metrics"] == list(protocol.metrics) and listed["prompt_set"] == protocol.prompt_set
    assert listed["n_prompts"] == protocol.prompt_set["n"] and listed["description"] == protocol.description
