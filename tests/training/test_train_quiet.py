"""`train ... --quiet` silences the trainer's progress reports; without it they go to stderr, never to stdout."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ddmd_bench.cli import main


def _train(tmp_path, *extra):
    args = ["train", "toy-ddmd-4step", "--out", str(tmp_path), "--set", "steps=2", "--set", "snapshot_every=0",
            "--threads", "1", *extra]
    return CliRunner().invoke(main, args)


def test_train_reports_progress_on_stderr_unless_quiet(tmp_path):
    loud = _train(tmp_path / "loud")
    assert loud.exit_code == 0, loud.output
    assert "train: " in loud.stderr and "step" in loud.stderr
    json.loads(loud.stdout)  # the result on stdout stays JSON
    quiet = _train(tmp_path / "quiet", "--quiet")
    assert quiet.exit_code == 0, quiet.output
    assert "train: " not in quiet.stderr
    assert json.loads(quiet.stdout).keys() == json.loads(loud.stdout).keys()
