"""Re-noising schedules consume a fixed, documented amount of randomness: two uniforms per sample (one per branch,
drawn whether or not the branches share them), so the noise the loss draws next is the same for every schedule."""

from __future__ import annotations

import pytest
import torch

from ddmd_bench.training.schedules import RENOISING_SCHEDULES


@pytest.mark.parametrize("name", RENOISING_SCHEDULES.names())
def test_sample_draws_exactly_two_uniforms_per_sample(name):
    sigma = torch.tensor([0.9, 0.5, 0.2])
    gen = torch.Generator().manual_seed(4)
    RENOISING_SCHEDULES.get(name).sample(sigma, gen, 1.0, (0.02, 0.98))
    after = torch.randn(5, generator=gen)
    ref = torch.Generator().manual_seed(4)
    torch.rand((2, 3), generator=ref, dtype=torch.float64)
    assert torch.equal(after, torch.randn(5, generator=ref))
