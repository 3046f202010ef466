"""Trainer overhead: a distillation step against the sum of its model passes timed one by one (target <= 1.15x),
and DMD (coupled, 2 teacher + 1 fake forward) against Decoupled DMD (3 + 1) step time.

Run: `pytest benchmarks/test_bench_trainer.py --benchmark-only`. Uses the shipped toy teacher, batch 32, LoRA 8,
a 1-step student (no backward simulation, so every step does the same work) and one fake update per step.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from ddmd_bench.tracks.toy.presets import get_preset
from ddmd_bench.training.trainer import Trainer

BATCH = 32


def _trainer(preset: str, tmp_path) -> tuple[Trainer, object]:
    cfg = get_preset(preset).with_overrides(batch_size=BATCH, student_steps=1, steps=10**6)
    trainer = Trainer(cfg, tmp_path / preset)
    nets = trainer.build()
    return trainer, nets


def _median(fn, rounds: int = 7) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _passes(trainer: Trainer, nets, teacher_rows: int) -> float:
    """Sum of the model passes one step makes, each timed alone with the same shapes."""
    t = trainer.teacher
    x = torch.randn(BATCH, *t.sample_shape)
    sigma = torch.rand(BATCH)
    prompts = trainer.prompts(0, BATCH)
    cond = t.encode(prompts)
    big = tuple(torch.cat([c] * teacher_rows) for c in cond)

    def student():
        out = t.call(nets.student, x, sigma, cond)
        out.square().mean().backward()

    def teacher():
        with torch.no_grad():
            t.call(t.net, torch.cat([x] * teacher_rows), torch.cat([sigma] * teacher_rows), big)

    def fake_forward():
        with torch.no_grad():
            t.call(nets.fake, x, sigma, cond)

    def fake_update():
        out = t.call(nets.fake, x, sigma, cond)
        out.square().mean().backward()

    return sum(_median(f) for f in (lambda: t.encode(prompts), student, teacher, fake_forward, fake_update))


@pytest.mark.parametrize("preset,teacher_rows", [("toy-dmd-1step", 2), ("toy-ddmd-1step", 3)])
def test_step_overhead(benchmark, tmp_path, preset, teacher_rows):
    trainer, nets = _trainer(preset, tmp_path)
    passes = _passes(trainer, nets, teacher_rows)
    counter = iter(range(10**6))
    benchmark.pedantic(lambda: trainer.step(next(counter), nets, nets.student, nets.fake), rounds=7,
                       warmup_rounds=1)
    step = benchmark.stats.stats.median
    benchmark.extra_info.update(step_seconds=step, passes_seconds=passes, ratio=step / passes)
    assert step <= 1.15 * passes, f"step {step:.3f}s vs passes {passes:.3f}s: ratio {step / passes:.2f} > 1.15"
