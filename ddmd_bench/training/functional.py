"""Pure math of the DMD family (no models, no state): directions, normalisations, surrogate losses, time shift.

Convention: `sigma` is the noise level in [0, 1] (0 = clean, 1 = pure noise), as in diffusers' flow schedulers.
The Decoupled DMD paper writes flow time t = 1 - sigma (t = 1 clean); docs/trainer.md.
"""

from __future__ import annotations

import torch

_CHW = (1, 2, 3)


def time_shift(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """SD3's resolution shift, sigma' = s sigma / (1 + (s - 1) sigma) (Esser et al. 2024, eq. 23); s = 1 is identity."""
    return shift * sigma / (1 + (shift - 1) * sigma)


def per_sample_mean_abs(x: torch.Tensor) -> torch.Tensor:
    """mean over C, H, W of |x|, shaped [N, 1, 1, 1] for broadcasting."""
    return x.abs().mean(dim=tuple(range(1, x.ndim)), keepdim=True)


def cfg_x0(x0_cond: torch.Tensor, x0_uncond: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guided prediction x0_uncond + alpha (x0_cond - x0_uncond) (Ho & Salimans 2022)."""
    return x0_uncond + guidance * (x0_cond - x0_uncond)


def ca_direction(x0_cond: torch.Tensor, x0_uncond: torch.Tensor, guidance: float) -> torch.Tensor:
    """CFG-augmentation term (alpha - 1)(x0_real_cond - x0_real_uncond), Decoupled DMD eq. (5), in x0 form."""
    return (guidance - 1.0) * (x0_cond - x0_uncond)


def dm_direction(x0_real_cond: torch.Tensor, x0_fake_cond: torch.Tensor) -> torch.Tensor:
    """Distribution-matching term x0_real_cond - x0_fake_cond, Decoupled DMD eq. (5), in x0 form."""
    return x0_real_cond - x0_fake_cond


def normalise(direction: torch.Tensor, x: torch.Tensor, x0_ref: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """DMD2's per-sample normaliser: direction / mean_CHW |x - x0_ref|; NaN/inf (0/0) become 0 as in DMD2."""
    return torch.nan_to_num(direction / (per_sample_mean_abs(x - x0_ref) + eps))


def surrogate_loss(x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """0.5 mean((x - sg(x + delta))^2): its gradient w.r.t. x is -delta / numel, so descent moves x along +delta."""
    return 0.5 * torch.mean((x - (x + delta).detach()) ** 2)


def dmd2_loss(x: torch.Tensor, x0_real_cfg: torch.Tensor, x0_fake: torch.Tensor) -> torch.Tensor:
    """DMD2's generator loss: g = (x0_fake - x0_real_cfg) / mean|x - x0_real_cfg|, 0.5 mse(x, sg(x - g))."""
    grad = torch.nan_to_num((x0_fake - x0_real_cfg) / per_sample_mean_abs(x - x0_real_cfg))
    return 0.5 * torch.mean((x - (x - grad).detach()) ** 2)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample cosine similarity of flattened tensors, [N]; 0 where either is all zeros."""
    a, b = a.flatten(1), b.flatten(1)
    denom = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(denom > 0, (a * b).sum(1) / denom.clamp_min(1e-30), torch.zeros_like(denom))


def mean_variance_kl(x: torch.Tensor, mu: float, var: float) -> torch.Tensor:
    """KL(N(m_i, v_i) || N(mu, var)) of each image's pixel mean and variance, averaged (Decoupled DMD eq. 7)."""
    m = x.mean(dim=tuple(range(1, x.ndim)))
    v = x.var(dim=tuple(range(1, x.ndim)), unbiased=False).clamp_min(1e-12)
    return (0.5 * (torch.log(var / v) + (v + (m - mu) ** 2) / var - 1.0)).mean()


def gan_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss softplus(-D(G(z))) (DMD2, following Goodfellow et al. 2014)."""
    return torch.nn.functional.softplus(-logits_fake).mean()


def gan_discriminator_loss(logits_fake: torch.Tensor, logits_real: torch.Tensor) -> torch.Tensor:
    """softplus(D(fake)) + softplus(-D(real)), averaged (DMD2)."""
    sp = torch.nn.functional.softplus
    return sp(logits_fake).mean() + sp(-logits_real).mean()


def inverse_time_shift(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """Inverse of `time_shift`: the pre-shift level of a shifted sigma."""
    return sigma / (shift - (shift - 1) * sigma)
