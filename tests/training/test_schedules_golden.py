"""Re-noising schedules draw their levels from independent float64 uniforms, exactly as documented."""

from __future__ import annotations

import torch

from ddmd_bench.training.schedules import RENOISING_SCHEDULES


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_levels_are_the_float64_uniforms_scaled_to_their_range():
    student = torch.tensor([1.0, 0.75, 0.5, 0.25], dtype=torch.float64)
    u = torch.rand((2, 4), generator=_gen(), dtype=torch.float64)
    full = RENOISING_SCHEDULES.get("decoupled-full").sample(student, _gen())
    assert torch.equal(full.sigma_ca, u[0].float()) and torch.equal(full.sigma_dm, u[1].float())
    hybrid = RENOISING_SCHEDULES.get("decoupled-hybrid").sample(student, _gen())
    assert torch.equal(hybrid.sigma_ca, (student * u[0]).float()) and torch.equal(hybrid.sigma_dm, u[1].float())


def test_ca_and_dm_are_independent_draws_unless_the_schedule_shares_them():
    student = torch.full((64,), 0.5, dtype=torch.float64)
    full = RENOISING_SCHEDULES.get("decoupled-full").sample(student, _gen(1))
    assert not torch.equal(full.sigma_ca, full.sigma_dm)
    coupled = RENOISING_SCHEDULES.get("coupled").sample(student, _gen(1))
    assert torch.equal(coupled.sigma_ca, coupled.sigma_dm)


def test_the_default_shift_is_the_identity():
    student = torch.tensor([1.0, 0.5], dtype=torch.float64)
    for name in ("coupled", "decoupled-full", "decoupled-constrained", "decoupled-hybrid"):
        schedule = RENOISING_SCHEDULES.get(name)
        default, explicit = schedule.sample(student, _gen(2)), schedule.sample(student, _gen(2), shift=1.0)
        assert torch.equal(default.sigma_ca, explicit.sigma_ca) and torch.equal(default.sigma_dm, explicit.sigma_dm)
