"""Speed of the toy track's building blocks (pytest-benchmark). Run with `make bench`."""

from __future__ import annotations

import numpy as np
import pytest

from ddmd_bench.metrics import functional as F
from ddmd_bench.tracks.toy import world
from ddmd_bench.tracks.toy.generators import ToyGenerator, ToyGeneratorSpec
from ddmd_bench.tracks.toy.prompts import toy_prompt_set

PROMPTS = list(toy_prompt_set().prompts[:96])


@pytest.mark.parametrize("steps, guidance", [(4, 1.0), (4, 3.0), (1, 1.0)])
def test_toy_teacher_batch96(benchmark, steps, guidance):
    gen = ToyGenerator(ToyGeneratorSpec("teacher", steps, guidance))
    images = benchmark.pedantic(gen.generate, args=(PROMPTS, list(range(96))), rounds=3, warmup_rounds=1)
    assert images.shape == (96, 3, 16, 16)


def test_world_render_4096(benchmark):
    batch = benchmark.pedantic(world.make_batch, args=(list(range(4096)),), rounds=3, warmup_rounds=0)
    assert batch.images.shape[0] == 4096


def test_frechet_distance_2048d(benchmark):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4096, 2048)), rng.normal(size=(4096, 2048)) + 0.1
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    value = benchmark.pedantic(F.frechet_distance, args=(x.mean(0), s1, y.mean(0), s2), rounds=3, warmup_rounds=0)
    assert value > 0
