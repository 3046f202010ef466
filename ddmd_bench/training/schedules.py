"""Re-noising schedules: where the CA and DM terms look at the student's output (Decoupled DMD, Table 1).

In sigma terms (1 = noise), the paper's tau ~ U(t, 1) "cleaner than the student's step" is sigma ~ U(0, sigma_t).
Draws are uniform in the pre-shift time and then shifted, with the student's pre-shift sigma as the bound
(the authors' answer in Z-Image issue #78). `clip` bounds every draw (DMD2 clips DM timesteps to [0.02, 0.98]).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ddmd_bench.registry import Registry
from ddmd_bench.training.functional import time_shift

RENOISING_SCHEDULES: Registry = Registry("re-noising schedule")


@dataclass(frozen=True, slots=True)
class RenoiseLevels:
    """Noise levels for the two branches; `shared` means one level and one noise draw serve both (coupled DMD)."""

    sigma_ca: torch.Tensor
    sigma_dm: torch.Tensor
    shared: bool


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule: whether each branch is bounded by the student's step, and whether the branches share tau."""

    name: str
    ca_bounded: bool
    dm_bounded: bool
    shared: bool
    description: str

    def sample(self, student_sigma: torch.Tensor, gen: torch.Generator, shift: float = 1.0,
               clip: tuple[float, float] = (0.0, 1.0)) -> RenoiseLevels:
        """Draw sigma_CA and sigma_DM for a batch whose student steps are at pre-shift `student_sigma` [N]."""
        u = torch.rand((2, student_sigma.shape[0]), generator=gen, dtype=torch.float64)
        ca = _uniform(u[0], student_sigma if self.ca_bounded else None, clip)
        dm = ca if self.shared else _uniform(u[1], student_sigma if self.dm_bounded else None, clip)
        ca, dm = time_shift(ca, shift), time_shift(dm, shift)
        return RenoiseLevels(ca.float(), dm.float(), self.shared)


def _uniform(u: torch.Tensor, upper: torch.Tensor | None, clip: tuple[float, float]) -> torch.Tensor:
    lo, hi = clip
    top = torch.full_like(u, hi) if upper is None else upper.double().clamp(max=hi)
    return lo + (top - lo).clamp_min(0.0) * u


for _s in (
    Schedule("coupled", False, False, True, "original DMD: one tau ~ U(0,1) and one noise shared by CA and DM"),
    Schedule("decoupled-full", False, False, False, "tau_CA, tau_DM ~ U(0,1) independently"),
    Schedule("decoupled-constrained", True, True, False, "both cleaner than the student's step: U(t,1)"),
    Schedule("decoupled-hybrid", True, False, False, "Decoupled DMD: tau_CA ~ U(t,1), tau_DM ~ U(0,1)"),
):
    RENOISING_SCHEDULES.add(_s.name, _s)
