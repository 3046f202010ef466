"""The toy protocol's prompt list: canonical prompts, held-in and held-out combinations interleaved 4:1."""

from __future__ import annotations

import numpy as np

from ddmd_bench.prompts import PromptSet
from ddmd_bench.tracks.toy import world

N_HELD_IN, N_HELD_OUT = 256, 64


def toy_prompt_set(seed: int = 0) -> PromptSet:
    """320 prompts; every fifth is a held-out combination, so any prefix keeps both splits in proportion."""
    rng = np.random.default_rng([seed, 0x9A0])
    held_in = _draw(rng, world.all_combinations(held_out=False), N_HELD_IN)
    held_out = _draw(rng, world.all_combinations(held_out=True), N_HELD_OUT)
    prompts = []
    for i in range(N_HELD_OUT):
        prompts += [world.canonical_prompt(a) for a in held_in[4 * i: 4 * i + 4]]
        prompts.append(world.canonical_prompt(held_out[i]))
    return PromptSet("toy", 1, tuple(prompts))


def _draw(rng: np.random.Generator, combos: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    # Every combination appears about equally often (whole passes in random order, then a random remainder).
    reps = -(-n // len(combos))
    order = np.concatenate([rng.permutation(len(combos)) for _ in range(reps)])[:n]
    return [combos[i] for i in order]
