"""One conversion layer between a teacher's output and clean-image (x0) predictions.

Internally every model is addressed by a noise level sigma in [0, 1] (0 clean, 1 pure noise). Each
parameterisation knows how to noise a clean sample at sigma, which timestep the network expects, how to turn the
network's output into x0, and what the network's own training target is (used by the fake model's loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ddmd_bench.registry import Registry

PARAMETERIZATIONS: Registry = Registry("parameterisation")


class Parameterization(Protocol):
    """What the trainer asks of a parameterisation (all tensors indexed by sigma in [0, 1])."""

    name: str

    def add_noise(self, x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The noised sample at sigma."""

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The timestep the network expects at sigma."""

    def to_x0(self, output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The clean-image prediction from the network's output."""

    def target(self, x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The network's own training target."""

    def levels(self, scheduler: Any) -> torch.Tensor:
        """The noise levels of a diffusers scheduler whose timesteps are set (one per sampling step)."""


def _view(s: torch.Tensor) -> torch.Tensor:
    return s.view(-1, 1, 1, 1)


@dataclass(frozen=True)
class Flow:
    """Rectified flow (SD3, FLUX, Lumina, Z-Image): x_s = (1 - s) x0 + s eps, output v = eps - x0."""

    num_train_timesteps: int = 1000
    name: str = "flow"

    def add_noise(self, x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x_sigma."""
        s = _view(sigma)
        return (1 - s) * x0 + s * eps

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """What diffusers' flow transformers take: sigma * num_train_timesteps."""
        return sigma * self.num_train_timesteps

    def to_x0(self, output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x0 = x_s - s v."""
        return x_t - _view(sigma) * output

    def target(self, x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Velocity eps - x0."""
        return eps - x0

    def levels(self, scheduler: Any) -> torch.Tensor:
        """A flow scheduler's sigmas, without the final 0."""
        return scheduler.sigmas[:-1].float()


@dataclass(frozen=True)
class _VP:
    """Discrete variance-preserving diffusion (DDPM): x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps, k = round(s (T-1))."""

    alphas_cumprod: torch.Tensor

    def _k(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma * (len(self.alphas_cumprod) - 1)).round().long().clamp(0, len(self.alphas_cumprod) - 1)

    def _ab(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        abar = self.alphas_cumprod.to(sigma.device, torch.float64)[self._k(sigma)]
        return _view(abar.sqrt()), _view((1 - abar).sqrt())

    def add_noise(self, x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x_k."""
        a, b = self._ab(sigma)
        return (a * x0 + b * eps).to(x0.dtype)

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The integer DDPM index k the UNet was trained with."""
        return self._k(sigma)

    def levels(self, scheduler: Any) -> torch.Tensor:
        """A discrete scheduler's timesteps k as levels k / (T - 1)."""
        return scheduler.timesteps.float() / (len(self.alphas_cumprod) - 1)


@dataclass(frozen=True)
class Epsilon(_VP):
    """Epsilon prediction (SD1.5, SDXL): x0 = (x_k - sqrt(1 - abar) eps_hat) / sqrt(abar)."""

    name: str = "epsilon"

    def to_x0(self, output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x0 from predicted noise."""
        a, b = self._ab(sigma)
        return ((x_t - b * output) / a).to(x_t.dtype)

    def target(self, x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The noise."""
        return eps


@dataclass(frozen=True)
class VPrediction(_VP):
    """v prediction (SD2-768, Salimans & Ho 2022): v = sqrt(abar) eps - sqrt(1 - abar) x0; x0 = a x_k - b v."""

    name: str = "v_prediction"

    def to_x0(self, output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x0 from predicted velocity."""
        a, b = self._ab(sigma)
        return (a * x_t - b * output).to(x_t.dtype)

    def target(self, x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Velocity."""
        a, b = self._ab(sigma)
        return (a * eps - b * x0).to(x0.dtype)


@PARAMETERIZATIONS.register("flow")
def _flow(scheduler_config: dict | None = None) -> Flow:
    return Flow(int((scheduler_config or {}).get("num_train_timesteps", 1000)))


def _alphas_cumprod(scheduler_config: dict) -> torch.Tensor:
    from diffusers import DDPMScheduler  # heavy backend, imported for VP teachers only

    keys = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas")
    return DDPMScheduler(**{k: scheduler_config[k] for k in keys if k in scheduler_config}).alphas_cumprod.double()


@PARAMETERIZATIONS.register("epsilon")
def _epsilon(scheduler_config: dict) -> Epsilon:
    return Epsilon(_alphas_cumprod(scheduler_config))


@PARAMETERIZATIONS.register("v_prediction")
def _v(scheduler_config: dict) -> VPrediction:
    return VPrediction(_alphas_cumprod(scheduler_config))


def from_scheduler_config(config: dict, class_name: str):
    """Pick the parameterisation a diffusers scheduler config implies (FlowMatch* -> flow, else prediction_type)."""
    if class_name.startswith("FlowMatch") or config.get("prediction_type") == "flow_prediction":
        return PARAMETERIZATIONS.get("flow")(config)
    return PARAMETERIZATIONS.get(config.get("prediction_type", "epsilon"))(config)
