"""Trainer overhead: a distillation step against the sum of the model passes it makes, each timed alone with the
same shapes (target: at most 1.05x for Decoupled DMD), alternating round by round; and DMD (coupled: 2 teacher rows
+ 1 fake forward) against Decoupled DMD (3 + 1).

The shipped toy teacher, batch 32, LoRA 8, a 1-step student (no backward simulation, so every step does the same
work) and one fake update per step.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from benchmarks import sidebyside
from ddmd_bench.tracks.toy.bundle import toy_bundle
from ddmd_bench.tracks.toy.presets import get_preset
from ddmd_bench.training.trainer import Trainer

BATCH = 32
ROUNDS = 7


def _trainer(preset: str, tmp_path) -> tuple[Trainer, object]:
    cfg = get_preset(preset).with_overrides(batch_size=BATCH, student_steps=1, steps=10**6)
    trainer = Trainer(cfg, tmp_path / preset, teacher=toy_bundle())
    return trainer, trainer.build()


def _passes(trainer: Trainer, nets, teacher_rows: int) -> list:
    """The model passes one step makes, as separate callables with the step's shapes."""
    t = trainer.teacher
    x = torch.randn(BATCH, *t.sample_shape)
    sigma = torch.rand(BATCH)
    prompts = trainer.prompts(0, BATCH)
    cond = t.encode(prompts)
    big = tuple(torch.cat([c] * teacher_rows) for c in cond)

    def student():
        t.call(nets.student, x, sigma, cond).square().mean().backward()

    def teacher():
        with torch.no_grad():
            t.call(t.net, torch.cat([x] * teacher_rows), torch.cat([sigma] * teacher_rows), big)

    def fake_forward():
        with torch.no_grad():
            t.call(nets.fake, x, sigma, cond)

    def fake_update():
        t.call(nets.fake, x, sigma, cond).square().mean().backward()

    return [lambda: t.encode(prompts), student, teacher, fake_forward, fake_update]


@pytest.mark.parametrize("preset,teacher_rows", [("toy-dmd-1step", 2), ("toy-ddmd-1step", 3)])
def test_step_overhead(benchmark, tmp_path, preset, teacher_rows):
    trainer, nets = _trainer(preset, tmp_path)
    passes = _passes(trainer, nets, teacher_rows)
    steps = iter(range(10**6))

    def step():
        trainer.step(next(steps), nets, nets.student, nets.fake)

    for fn in (step, *passes):  # warm-up
        fn()
    step_times, pass_times = [], []
    for _ in range(ROUNDS):  # each pass timed alone, then a step, in every round
        total = 0.0
        for p in passes:
            t0 = time.perf_counter()
            p()
            total += time.perf_counter() - t0
        pass_times.append(total)
        t0 = time.perf_counter()
        step()
        step_times.append(time.perf_counter() - t0)
    name = {"toy-dmd-1step": "dmd", "toy-ddmd-1step": "decoupled_dmd"}[preset]
    ratio = sidebyside.record(f"trainer_step_vs_passes_{name}", statistics.median(step_times),
                              statistics.median(pass_times), rounds=ROUNDS,
                              baseline="the same model passes, each timed alone (encode, student fwd+bwd, "
                                       f"teacher on {teacher_rows}x rows, fake fwd, fake fwd+bwd)")
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(step, rounds=1, warmup_rounds=0)
    assert ratio["ours_median_s"] > 0
