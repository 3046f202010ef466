"""The toy teacher's learning-rate schedule: warm-up, constant, linear cool-down to zero; a function of the step."""

from __future__ import annotations

import pytest

from ddmd_bench.tracks.toy.teacher_training import TeacherTrainConfig, learning_rate


def test_warm_up_constant_then_cool_down_to_zero():
    cfg = TeacherTrainConfig(lr=1e-3, warmup_steps=200, steps=4200, decay_start=3600)
    assert learning_rate(cfg, 0) == pytest.approx(1e-3 / 200)
    assert learning_rate(cfg, 199) == pytest.approx(1e-3)
    assert learning_rate(cfg, 3599) == pytest.approx(1e-3)
    assert learning_rate(cfg, 3600) == pytest.approx(1e-3)  # first cool-down step: (4200 - 3600) / 600
    assert learning_rate(cfg, 3900) == pytest.approx(0.5e-3)
    assert learning_rate(cfg, 4199) == pytest.approx(1e-3 / 600)


def test_a_run_shorter_than_the_cool_down_start_keeps_a_constant_rate():
    cfg = TeacherTrainConfig(lr=1e-3, warmup_steps=10, steps=100, decay_start=3600)
    assert [learning_rate(cfg, s) for s in (10, 50, 99)] == pytest.approx([1e-3] * 3)
