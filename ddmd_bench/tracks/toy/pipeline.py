"""Sampling the toy teacher (and its students) with diffusers schedulers and classifier-free guidance."""

from __future__ import annotations

import time

import torch

from ddmd_bench.registry import Registry
from ddmd_bench.tracks.toy import text
from ddmd_bench.tracks.toy.models import TeacherConfig, ToyDenoiser
from ddmd_bench.tracks.toy.world import RESOLUTION

SCHEDULERS: Registry = Registry("toy scheduler")


@SCHEDULERS.register("flow-euler")
def _flow_euler(config: TeacherConfig, steps: int):
    from diffusers import FlowMatchEulerDiscreteScheduler  # heavy backend: only when a toy model samples

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=config.scheduler_shift)


@SCHEDULERS.register("flow-heun")
def _flow_heun(config: TeacherConfig, steps: int):
    from diffusers import FlowMatchHeunDiscreteScheduler  # heavy backend: only when a toy model samples

    return FlowMatchHeunDiscreteScheduler(num_train_timesteps=1000, shift=config.scheduler_shift)


@SCHEDULERS.register("flow-unipc")
def _flow_unipc(config: TeacherConfig, steps: int):
    from diffusers import UniPCMultistepScheduler  # heavy backend: only when a toy model samples

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=config.scheduler_shift
    )


@SCHEDULERS.register("flow-dmd")
def _flow_dmd(config: TeacherConfig, steps: int):
    """DMD students' chain: predict x0, re-noise with fresh noise at the next level (diffusers' stochastic flow
    Euler). `shift_terminal = 1/steps` stretches the grid to 1, 1 - 1/k, ..., 1/k: DMD2's [999, 749, 499, 249]."""
    from diffusers import FlowMatchEulerDiscreteScheduler  # heavy backend: only when a toy model samples

    terminal = 1.0 / steps if steps > 1 else None
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=config.scheduler_shift,
                                           stochastic_sampling=True, shift_terminal=terminal)


STEP_NOISE_OFFSET = 10**9  # step-noise generators of stochastic samplers: seed + offset, disjoint from x_T's


def initial_noise(seeds: list[int], channels: int = 3, size: int = RESOLUTION) -> torch.Tensor:
    """Per-sample Gaussian noise: sample i depends only on seeds[i], never on the batch it is in."""
    return torch.stack([torch.randn(channels, size, size, generator=torch.Generator().manual_seed(s)) for s in seeds])


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats to uint8, rounded (never truncated); NaN is an error, not a black pixel."""
    if not torch.isfinite(x).all():
        raise FloatingPointError("generator produced non-finite pixels (NaN or inf)")
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class ToySampler:
    """Runs a scheduler over the toy denoiser: `sample(prompts, seeds) -> uint8 [N, 3, 16, 16]`."""

    def __init__(self, model: ToyDenoiser, tokenizer, scheduler, steps: int, guidance: float = 1.0) -> None:
        self.model, self.tokenizer, self.scheduler = model.eval(), tokenizer, scheduler
        self.steps, self.guidance = steps, guidance
        self.calls = 0  # denoiser forward passes (a batch counts once), for recipe tests and NFE accounting
        self.last_stage_seconds: dict[str, float] = {}

    @torch.no_grad()
    def sample(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        """Generate one image per (prompt, seed); per-stage wall times land in `last_stage_seconds`."""
        t0 = time.perf_counter()
        device = next(self.model.parameters()).device  # noise is drawn on the CPU, so samples match across devices
        cond = self._conditioning(prompts, device)
        t1 = time.perf_counter()
        x = initial_noise(seeds).to(device)
        self.scheduler.set_timesteps(self.steps)
        step_noise = None
        if self.scheduler.config.get("stochastic_sampling"):  # per-sample generators: batch-size independent
            step_noise = [torch.Generator().manual_seed(s + STEP_NOISE_OFFSET) for s in seeds]
        for t in self.scheduler.timesteps:
            v = self._velocity(x, t, cond)
            extra = {"generator": step_noise} if step_noise is not None else {}  # not every scheduler takes one
            x = self.scheduler.step(v, t, x, return_dict=False, **extra)[0]
        t2 = time.perf_counter()
        images = to_uint8(x).cpu()  # pixel space: "decoding" is the conversion to uint8 (no VAE)
        self.last_stage_seconds = {"text_encoding": t1 - t0, "denoising": t2 - t1,
                                   "decoding": time.perf_counter() - t2}
        return images

    def _conditioning(self, prompts: list[str], device: torch.device):
        ids = text.tokenize(self.tokenizer, prompts)
        if self.guidance != 1.0:
            ids = torch.cat([text.tokenize(self.tokenizer, [""] * len(prompts)), ids])
        return self.model.encode(ids.to(device))

    def _velocity(self, x: torch.Tensor, t: torch.Tensor, cond) -> torch.Tensor:
        sigma = (t / 1000.0).to(x.device).expand(x.shape[0] * (2 if self.guidance != 1.0 else 1))
        model_in = torch.cat([x, x]) if self.guidance != 1.0 else x
        v = self.model(model_in, sigma, cond)  # flow schedulers need no input scaling
        self.calls += 1
        if self.guidance == 1.0:
            return v
        v_uncond, v_cond = v.chunk(2)
        return v_uncond + self.guidance * (v_cond - v_uncond)  # classifier-free guidance (Ho & Salimans 2022)
