"""Killing a training run (SIGKILL) and re-running the same command gives the uninterrupted run's weights."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ddmd_bench.training import runlog
from ddmd_bench.utils.checkpoint import load_state
from tests.training.resume_job import run

ROOT = Path(__file__).resolve().parents[2]


def _kill_after_checkpoint(out: Path, min_step: int) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "tests.training.resume_job", str(out), "0.4"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            state = out / "state.pt"
            if state.exists():
                try:
                    step = load_state(state)["step"]
                except RuntimeError:  # caught mid-rename: try again
                    step = 0
                if step >= min_step:
                    time.sleep(0.5)  # land somewhere inside the next steps
                    proc.kill()
                    proc.wait()
                    return step
            if proc.poll() is not None:
                pytest.fail(f"training job exited early with {proc.returncode}")
            time.sleep(0.05)
        pytest.fail("no checkpoint within 120 s")
    finally:
        if proc.poll() is None:
            proc.kill()
    return 0


@pytest.mark.parametrize("kill_at", [2, 4])
def test_kill_and_rerun_equals_uninterrupted(tmp_path, kill_at):
    run(str(tmp_path / "straight"))
    killed = _kill_after_checkpoint(tmp_path / "resumed", kill_at)
    assert 2 <= killed < 8
    assert not (tmp_path / "resumed" / "student.safetensors").exists()
    run(str(tmp_path / "resumed"))
    a = load_file(str(tmp_path / "straight" / "student.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "student.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log_a, log_b = runlog.read(tmp_path / "straight"), runlog.read(tmp_path / "resumed")
    assert [r["step"] for r in log_b] == list(range(1, 9))  # no step lost or repeated
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]


def test_run_refuses_a_folder_with_another_configuration(tmp_path):
    from ddmd_bench.training.trainer import Trainer
    from tests.training.resume_job import CFG
    from tests.factories import tiny_flow_bundle

    run(str(tmp_path / "r"))
    other = CFG.with_overrides(lr=5e-4)
    with pytest.raises(ValueError, match=r"different configuration \(saved != now: lr: 0\.001 != 0\.0005\)"):
        Trainer(other, tmp_path / "r", teacher=tiny_flow_bundle(), prompts=lambda s, n: [""] * n).run()


def test_run_refuses_to_resume_a_student_of_another_teacher(tmp_path):
    from dataclasses import replace

    from ddmd_bench.training.trainer import Trainer
    from tests.training.resume_job import CFG
    from tests.factories import tiny_flow_bundle

    def bundle(sha: str):
        return replace(tiny_flow_bundle(), weights_sha256=sha)

    cfg = CFG.with_overrides(steps=2)
    Trainer(cfg, tmp_path / "r", teacher=bundle("a" * 64), prompts=lambda s, n: [""] * n).run()
    assert load_state(tmp_path / "r" / "state.pt")["teacher_sha256"] == "a" * 64
    # the same teacher resumes (here: the run is finished and re-exports), a retrained one is refused
    Trainer(cfg, tmp_path / "r", teacher=bundle("a" * 64), prompts=lambda s, n: [""] * n).run()
    with pytest.raises(ValueError, match="distilled from teacher aaaaaaaaaaaa, but the teacher is now bbbbbbbbbbbb"):
        Trainer(cfg, tmp_path / "r", teacher=bundle("b" * 64), prompts=lambda s, n: [""] * n).run()


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    from dataclasses import replace

    from ddmd_bench.training.trainer import Trainer, TrainingDiverged
    from tests.training.resume_job import CFG
    from tests.factories import tiny_flow_bundle

    teacher = tiny_flow_bundle()
    calls = teacher.call
    poisoned = {"on": False}

    def call(net, x, sigma, cond):
        out = calls(net, x, sigma, cond)
        return out * float("nan") if poisoned["on"] and net is teacher.net else out

    def prompts(step: int, n: int) -> list[str]:
        poisoned["on"] = step >= 3  # steps are 0-based here: the 4th update sees a NaN teacher
        return ["a prompt"] * n

    with pytest.raises(TrainingDiverged, match=r"prediction became non-finite at step 4.*state.pt \(step 2\)"):
        Trainer(CFG, tmp_path / "r", teacher=replace(teacher, call=call), prompts=prompts).run()
    assert load_state(tmp_path / "r" / "state.pt")["step"] == 2
    assert not (tmp_path / "r" / "student.safetensors").exists()
