"""`make demo` as a user runs it: `ddmd-bench evaluate` with no options (every shipped toy model on the default toy
protocol) in a fresh interpreter with its default threads, into an empty results folder and leaderboard folder, so
nothing is reused and no committed file changes. Target: at most 60 s on the 2-core machine. Next to it, the same
command run again on the same folders, which reuses the finished results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import sidebyside
from ddmd_bench.utils.threads import NUMPY_BLAS_VARIABLE, THREAD_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ("leaderboards", "results")  # what the default command writes to when not redirected


def _user_env() -> dict[str, str]:
    """The environment without the one-thread settings of `make bench`, so the command chooses its threads."""
    env = {k: v for k, v in os.environ.items() if k not in (*THREAD_VARIABLES, NUMPY_BLAS_VARIABLE)}
    return env | {"HF_HUB_OFFLINE": "1"}


def _snapshot() -> dict[str, tuple[int, int]]:
    """Size and modification time of every record and leaderboard file the default command would write to."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for d in COMMITTED if (ROOT / d).exists()
            for p in (ROOT / d).rglob("*.json*") if p.is_file()}


def test_default_evaluation(benchmark, tmp_path):
    command = [str(Path(sys.executable).with_name("ddmd-bench")), "evaluate", "--results-dir", str(tmp_path / "results"),
               "--leaderboard-dir", str(tmp_path / "leaderboards"), "--quiet"]

    def run():
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=_user_env(), capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        assert done.returncode == 0, f"`ddmd-bench evaluate` failed:\n{done.stderr[-3000:]}"
        return elapsed

    committed = _snapshot()
    fresh = benchmark.pedantic(run, rounds=1, iterations=1)
    reused = run()
    assert _snapshot() == committed, "the demo benchmark changed files under leaderboards/ or results/"
    records = sorted((tmp_path / "results").rglob("*.json"))
    boards = sorted((tmp_path / "leaderboards").glob("*.jsonl"))
    assert records and len(boards) == 1, (records, boards)
    entries = [json.loads(line) for line in boards[0].read_text().splitlines() if line.strip()]
    assert len(entries) == len(records) + 1, "a header line, then one leaderboard entry per result record"
    ratio = sidebyside.record("demo_evaluate", fresh, reused, rounds=1, models=len(records),
                              leaderboard=boards[0].name,
                              baseline="the same command again on the same folders (finished results reused)")
    benchmark.extra_info.update(ratio)
