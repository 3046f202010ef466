"""DMD2's optional GAN term (docs/trainer.md): a small classifier head on the fake model's middle features.

Real and generated images are noised at the same kind of level the fake model is trained on, passed through the fake
network, and the head classifies the pooled features of its middle block (a UNet's mid-block, or the middle block of a
transformer's block list). The discriminator loss softplus(D(fake)) + softplus(-D(real)) trains the head and the fake
network together (DMD2 weight 1e-2); the generator adds softplus(-D(G)) (DMD2: 1e-3 for SD1.5, 5e-3 for SDXL).
It needs real images with captions, which the teacher bundle supplies (`real_data`); a bundle without them gets a
clear error.
"""

from __future__ import annotations

import torch

from ddmd_bench.training import functional as F
from ddmd_bench.training.bundle import RealData, TeacherBundle


def middle_module(net: torch.nn.Module) -> torch.nn.Module:
    """A UNet's mid-block, else the middle block of the network's longest ModuleList."""
    if getattr(net, "mid_block", None) is not None:
        return net.mid_block
    lists = [m for m in net.modules() if isinstance(m, torch.nn.ModuleList) and len(m)]
    if not lists:
        raise ValueError(f"{type(net).__name__} has neither a mid_block nor a block list to put a GAN head on")
    blocks = max(lists, key=len)
    return blocks[len(blocks) // 2]


class FeatureTap:
    """Keeps the last output of a module (a forward hook), pooled to [B, C]."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.output: torch.Tensor | None = None
        module.register_forward_hook(self._hook)

    def _hook(self, module, args, output) -> None:
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        self.output = max((o for o in outputs if isinstance(o, torch.Tensor)), key=lambda o: o.numel())

    def pooled(self) -> torch.Tensor:
        """Mean over every axis but batch and channels: [B, C, H, W] -> [B, C]; [B, N, C] -> [B, C]."""
        h = self.output
        return h.mean(dim=(2, 3)) if h.dim() == 4 else h.mean(dim=1)


class GANHead(torch.nn.Module):
    """A small MLP classifier: pooled features -> one logit per image."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.LayerNorm(channels), torch.nn.Linear(channels, channels),
                                       torch.nn.SiLU(), torch.nn.Linear(channels, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features.float()).squeeze(-1)


class GAN:
    """The head, its feature tap on the fake network, and both losses."""

    def __init__(self, teacher: TeacherBundle, fake: torch.nn.Module, real_data: RealData,
                 clip: tuple[float, float]) -> None:
        self.teacher, self.real_data, self.clip = teacher, real_data, clip
        self.tap = FeatureTap(middle_module(fake))
        with torch.no_grad():  # one probe pass to size the head
            x = torch.zeros(1, *teacher.sample_shape)
            teacher.call(fake, x, torch.full((1,), 0.5), teacher.encode([""]))
        self.head = GANHead(self.tap.pooled().shape[1])

    def logits(self, fake: torch.nn.Module, x0: torch.Tensor, cond, gen: torch.Generator, rows: slice,
               n_global: int) -> torch.Tensor:
        """D(x0): noise at sigma ~ U(clip) (global draws, sliced by rows), run the fake net, classify."""
        u = torch.rand(n_global, generator=gen, dtype=torch.float64)
        eps = torch.randn((n_global, *x0.shape[1:]), generator=gen)[rows].to(x0.dtype)
        sigma = (self.clip[0] + (self.clip[1] - self.clip[0]) * u)[rows].to(x0.dtype)
        self.teacher.call(fake, self.teacher.parameterization.add_noise(x0, eps, sigma), sigma, cond)
        return self.head(self.tap.pooled())

    def generator_loss(self, fake, x, cond, gen, rows, n_global) -> torch.Tensor:
        """softplus(-D(G(z))): gradients reach the student through the (not updated) fake network."""
        return F.gan_generator_loss(self.logits(fake, x, cond, gen, rows, n_global))

    def discriminator_loss(self, fake, x, cond, real_seeds: list[int], gen, rows, n_global) -> torch.Tensor:
        """softplus(D(fake)) + softplus(-D(real)) on detached student outputs and real images with captions."""
        real, captions = self.real_data(real_seeds)
        real_cond = self.teacher.encode(captions[rows])
        logits_fake = self.logits(fake, x.detach(), cond, gen, rows, n_global)
        logits_real = self.logits(fake, real[rows].to(x.dtype), real_cond, gen, rows, n_global)
        return F.gan_discriminator_loss(logits_fake, logits_real)

