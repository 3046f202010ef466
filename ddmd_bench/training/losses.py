"""Generator and fake-model losses of the DMD family as small callables (docs/trainer.md).

`DMDLoss` covers coupled DMD/DMD2 (schedule 'coupled', `shared_cfg` normalisation), Decoupled DMD (the decoupled
schedules) and the CA-only / DM-only ablations. The generator loss is one surrogate 0.5 mean((x - sg(x + CA + DM))^2):
its gradient is the sum of the CA and DM surrogates' gradients (the paper's "sum of a CA loss and a DM loss"), and
with the coupled schedule and `shared_cfg` normalisation its value equals DMD2's loss exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from ddmd_bench.registry import Registry
from ddmd_bench.training import functional as F
from ddmd_bench.training.bundle import Cond, TeacherBundle, cat_cond
from ddmd_bench.training.schedules import RENOISING_SCHEDULES

log = logging.getLogger(__name__)

NORMALIZATIONS = ("per_branch", "shared_cfg", "none")
TERMS = ("both", "ca", "dm")
NORMS: Registry = Registry("normalisation")
for _n in NORMALIZATIONS:
    NORMS.add(_n, _n)
TERM_CHOICES: Registry = Registry("loss terms")
for _t in TERMS:
    TERM_CHOICES.add(_t, _t)


@dataclass(frozen=True, slots=True)
class DMDLossConfig:
    """What the generator loss computes; see docs/trainer.md for each option's source."""

    schedule: str = "decoupled-hybrid"
    normalization: str = "per_branch"
    terms: str = "both"  # "ca": CA-only ablation, "dm": DM-only ablation
    guidance: float = 3.0  # alpha, the real-score CFG scale
    shift: float | None = None  # flow time shift applied to re-noising levels; None = the teacher's (its scheduler's)
    clip: tuple[float, float] = (0.02, 0.98)  # DMD2's timestep clip, applied to every re-noising draw
    eps: float = 0.0  # added to normalisers (DMD2 uses none and nan_to_num)

    def validate(self) -> None:
        """Fail early on names that do not exist (did-you-mean errors)."""
        RENOISING_SCHEDULES.get(self.schedule)
        NORMS.get(self.normalization)
        TERM_CHOICES.get(self.terms)
        if self.shift is not None and not self.shift > 0:
            raise ValueError(f"loss.shift must be a positive number (or unset to take the teacher's), "
                             f"got {self.shift}")
        if self.terms == "ca" and self.guidance == 1.0:
            raise ValueError("CA-only training with guidance 1 has no loss at all (the CA term is (alpha-1)(...))")

    @property
    def needs_fake(self) -> bool:
        """Whether the DM term (and so a fake model) is used."""
        return self.terms != "ca"

    @property
    def needs_uncond(self) -> bool:
        """Whether the teacher's unconditional branch is used."""
        return (self.terms != "dm" and self.guidance != 1.0) or self.normalization == "shared_cfg"


class DMDLoss:
    """Generator loss for one batch of student outputs `x` (with grad) at pre-shift student levels.

    `shift` is the flow time shift of the re-noising draws: the config's, or else the teacher's own, so that a
    pre-shift bound maps back exactly to the student's (post-shift) level on the teacher's grid.
    """

    def __init__(self, config: DMDLossConfig, teacher: TeacherBundle) -> None:
        config.validate()
        self.config, self.teacher = config, teacher
        self.schedule = RENOISING_SCHEDULES.get(config.schedule)
        teacher_shift = teacher.time_shift
        self.shift = teacher_shift if config.shift is None else float(config.shift)
        if self.shift != teacher_shift:
            log.warning("loss.shift=%g differs from teacher %s's time shift %g: re-noising draws follow %g (bounds "
                        "still map to the student's levels)", self.shift, teacher.name, teacher_shift, self.shift)

    def __call__(self, x: torch.Tensor, student_sigma: torch.Tensor, cond: Cond, uncond: Cond,
                 fake_net: torch.nn.Module | None, gen: torch.Generator,
                 rows: slice | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """(loss, diagnostics). Random draws are made for the global batch and sliced by `rows` (DDP ranks)."""
        c = self.config
        n_global = student_sigma.shape[0]
        levels = self.schedule.sample(student_sigma, gen, self.shift, c.clip)
        noise_ca = torch.randn((n_global, *x.shape[1:]), generator=gen)
        noise_dm = noise_ca if levels.shared else torch.randn((n_global, *x.shape[1:]), generator=gen)
        rows = rows or slice(0, n_global)
        s_ca, s_dm, e_ca, e_dm = (t[rows].to(x.dtype) for t in (levels.sigma_ca, levels.sigma_dm, noise_ca, noise_dm))
        with torch.no_grad():
            pred = self._teacher_predictions(x.detach(), s_ca, s_dm, e_ca, e_dm, cond, uncond, levels.shared)
            if c.needs_fake:
                x_dm = self.teacher.parameterization.add_noise(x.detach(), e_dm, s_dm)
                pred["fake_dm"] = self.teacher.x0(fake_net, x_dm, s_dm, cond)
            ca, dm = self._directions(x.detach(), pred)
        delta = {"both": ca + dm, "ca": ca, "dm": dm}[c.terms]
        loss = F.surrogate_loss(x, delta)
        # DMD2's nan_to_num would silently zero a NaN teacher or fake model: count non-finite predictions instead,
        # so the trainer can stop.
        stats = {"nonfinite": float(sum(int((~torch.isfinite(v)).sum()) for v in pred.values())),
                 "ca_mag": ca.abs().mean().item(), "dm_mag": dm.abs().mean().item(),
                 "cos_ca_dm": F.cosine(ca, dm).mean().item(), "sigma_ca": s_ca.mean().item(),
                 "sigma_dm": s_dm.mean().item()}
        return loss, stats

    def _teacher_predictions(self, x, s_ca, s_dm, e_ca, e_dm, cond, uncond, shared) -> dict[str, torch.Tensor]:
        """One batched teacher pass over every (input, level, conditioning) the terms need."""
        c, p, n = self.config, self.teacher.parameterization, x.shape[0]
        x_ca, x_dm = p.add_noise(x, e_ca, s_ca), p.add_noise(x, e_dm, s_dm)
        jobs = [("cond_ca", x_ca, s_ca, cond)]
        if c.needs_uncond:
            jobs.append(("uncond_ca", x_ca, s_ca, uncond))
        if c.needs_fake and not shared:
            jobs.append(("cond_dm", x_dm, s_dm, cond))
        out = self.teacher.x0(self.teacher.net, torch.cat([j[1] for j in jobs]), torch.cat([j[2] for j in jobs]),
                              cat_cond(*[j[3] for j in jobs]))
        pred = {name: out[i * n:(i + 1) * n] for i, (name, *_) in enumerate(jobs)}
        pred.setdefault("cond_dm", pred["cond_ca"])
        return pred

    def _directions(self, x: torch.Tensor, pred: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        zeros = torch.zeros_like(x)
        use_ca = c.terms != "dm" and c.guidance != 1.0
        ca = F.ca_direction(pred["cond_ca"], pred["uncond_ca"], c.guidance) if use_ca else zeros
        dm = F.dm_direction(pred["cond_dm"], pred["fake_dm"]) if c.needs_fake else zeros
        if c.normalization == "per_branch":
            return F.normalise(ca, x, pred["cond_ca"], c.eps), F.normalise(dm, x, pred["cond_dm"], c.eps)
        if c.normalization == "shared_cfg":  # DMD2's single denominator mean|x - x0_real_cfg|, at tau_CA
            ref = F.cfg_x0(pred["cond_ca"], pred["uncond_ca"], c.guidance)
            return F.normalise(ca, x, ref, c.eps), F.normalise(dm, x, ref, c.eps)
        return ca, dm


def fake_loss(teacher: TeacherBundle, fake_net: torch.nn.Module, x: torch.Tensor, cond: Cond,
              gen: torch.Generator, clip: tuple[float, float], rows: slice | None = None,
              n_global: int | None = None, shift: float = 1.0) -> torch.Tensor:
    """The fake model's denoising loss on detached student outputs, in the teacher's own parameterisation.

    Levels are uniform in `clip` before the time shift, as the DM term's unbounded draws, so the fake model learns
    where it is queried. Draws are made for the global batch (`n_global`) and sliced by `rows`, so DDP ranks see the
    single-process noise.
    """
    n_global = n_global or x.shape[0]
    rows = rows or slice(0, n_global)
    u = torch.rand(n_global, generator=gen, dtype=torch.float64)
    eps = torch.randn((n_global, *x.shape[1:]), generator=gen)[rows].to(x.dtype)
    sigma = F.time_shift(clip[0] + (clip[1] - clip[0]) * u, shift)[rows].to(x.dtype)
    p = teacher.parameterization
    x = x.detach()
    pred = teacher.call(fake_net, p.add_noise(x, eps, sigma), sigma, cond)
    return (pred.float() - p.target(x, eps, sigma).float()).square().mean()
