"""Teachers as the trainer sees them: a frozen network, its conditioning, its parameterisation.

A `TeacherBundle` hides the model family: the toy SD3-style transformer, an SD1.5/SDXL-style UNet pipeline, or an
SD3-style flow transformer pipeline. Students and fake models are copies of `bundle.net` (optionally with LoRA), all
called through `bundle.call`, so the loss code never sees a model class.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ddmd_bench.registry import Registry

log = logging.getLogger(__name__)

Cond = tuple[torch.Tensor, ...]
FAMILIES: Registry = Registry("teacher family")


def cat_cond(*conds: Cond) -> Cond:
    """Concatenate conditionings along the batch dimension, field by field."""
    return tuple(torch.cat(parts) for parts in zip(*conds))


def slice_cond(cond: Cond, index: slice | torch.Tensor) -> Cond:
    """Rows `index` of every field."""
    return tuple(c[index] for c in cond)


@dataclass
class TeacherBundle:
    """A frozen teacher: `net` is what students copy; `call(net, x, sigma, cond)` returns its raw output."""

    name: str
    net: torch.nn.Module
    encode: Callable[[list[str]], Cond]
    call: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, Cond], torch.Tensor]
    parameterization: Any
    sample_shape: tuple[int, int, int]
    few_step_scheduler: Callable[[int], Any] | None = None
    supports_cfg: bool = True
    extras: dict[str, Any] = field(default_factory=dict)

    def student_sigmas(self, steps: int) -> torch.Tensor:
        """Noise levels of a `steps`-step student: read from the few-step scheduler it will be sampled with, so
        training and sampling can never disagree."""
        scheduler = self.few_step_scheduler(steps)
        scheduler.set_timesteps(steps)
        if hasattr(self.parameterization, "alphas_cumprod"):  # VP: discrete timesteps k -> k / (T - 1)
            return scheduler.timesteps.float() / (len(self.parameterization.alphas_cumprod) - 1)
        return scheduler.sigmas[:-1].float()

    @property
    def time_shift(self) -> float:
        """The flow time shift of the teacher's sampler: its scheduler config's `shift` (SD3: 3), 1 when it has none
        (VP schedulers). Student grids read from that scheduler are post-shift; re-noising draws are made before it."""
        if self.few_step_scheduler is None:
            return 1.0
        return float(self.few_step_scheduler(1).config.get("shift", 1.0))

    def x0(self, net: torch.nn.Module, x: torch.Tensor, sigma: torch.Tensor, cond: Cond) -> torch.Tensor:
        """Clean-image prediction of `net` at noise level sigma."""
        p = self.parameterization
        return p.to_x0(self.call(net, x, sigma, cond), x, sigma)

    def copy_net(self) -> torch.nn.Module:
        """A trainable deep copy of the teacher network (initialisation of student and fake model)."""
        return copy.deepcopy(self.net).train().requires_grad_(True)


def flow_few_step_scheduler(config: dict | None = None):
    """DMD students of flow teachers: diffusers' stochastic flow Euler (predict x0, re-noise with fresh noise), with
    `shift_terminal = 1/steps` so 4 steps give 1, .75, .5, .25 before the teacher's shift (DMD2's grid)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    def build(steps: int):
        cfg = {k: v for k, v in (config or {}).items() if not k.startswith("_")}
        return FlowMatchEulerDiscreteScheduler.from_config(
            {**cfg, "stochastic_sampling": True, "shift_terminal": 1.0 / steps if steps > 1 else None,
             "use_dynamic_shifting": False})
    return build


def vp_few_step_scheduler(config: dict):
    """DMD students of epsilon/v teachers: LCMScheduler with original_inference_steps = steps gives DMD2's
    [999, 749, 499, 249] for 4 steps; its boundary scalings at these timesteps change x0 by < 1e-7 relative."""
    from diffusers import LCMScheduler

    def build(steps: int):
        cfg = {k: v for k, v in config.items() if not k.startswith("_")}
        return LCMScheduler.from_config({**cfg, "original_inference_steps": steps})
    return build


def few_step_scheduler_for(param, config: dict):
    """The few-step sampler matching a teacher's parameterisation."""
    return flow_few_step_scheduler(config) if param.name == "flow" else vp_few_step_scheduler(config)


def _sd3_call(param):
    def call(net, x, sigma, cond):
        hidden, pooled = cond
        return net(x, hidden, pooled, param.timestep(sigma), return_dict=False)[0]
    return call


@FAMILIES.register("toy")
def toy_bundle(_: Any = None) -> TeacherBundle:
    """The shipped toy teacher (pixel-space SD3-style transformer, flow matching, CFG-trained)."""
    from ddmd_bench.tracks.toy import text
    from ddmd_bench.tracks.toy.loaders import load_denoiser
    from ddmd_bench.training.parameterization import PARAMETERIZATIONS

    model, tokenizer, meta = load_denoiser("teacher")
    param = PARAMETERIZATIONS.get("flow")()

    @torch.no_grad()
    def encode(prompts: list[str]) -> Cond:
        return model.encode(text.tokenize(tokenizer, prompts))

    from ddmd_bench.tracks.toy.models import TeacherConfig
    from ddmd_bench.tracks.toy.pipeline import SCHEDULERS
    from ddmd_bench.training.gan import toy_real_data

    res = meta["model_config"]["transformer"]["sample_size"]
    config = TeacherConfig.from_dict(meta["model_config"])
    return TeacherBundle("toy-teacher", model.transformer, encode, _sd3_call(param), param, (3, res, res),
                         few_step_scheduler=lambda steps: SCHEDULERS.get("flow-dmd")(config, steps),
                         extras={"teacher_sha256": meta["sha256"], "model_config": meta["model_config"],
                                 "real_data": toy_real_data})


@FAMILIES.register("StableDiffusionPipeline")
def sd_unet_bundle(pipe) -> TeacherBundle:
    """SD1.5-style pipelines: UNet2DConditionModel on VAE latents, CLIP text encoder, epsilon or v prediction."""
    from ddmd_bench.training.parameterization import from_scheduler_config

    param = from_scheduler_config(dict(pipe.scheduler.config), type(pipe.scheduler).__name__)

    @torch.no_grad()
    def encode(prompts: list[str]) -> Cond:
        embeds, _ = pipe.encode_prompt(prompts, "cpu", 1, False)
        return (embeds,)

    def call(net, x, sigma, cond):
        return net(x, param.timestep(sigma), encoder_hidden_states=cond[0], return_dict=False)[0]

    unet = pipe.unet
    size = unet.config.sample_size
    return TeacherBundle("sd-unet", unet, encode, call, param, (unet.config.in_channels, size, size),
                         few_step_scheduler_for(param, dict(pipe.scheduler.config)), extras={"pipeline": pipe})


@FAMILIES.register("StableDiffusion3Pipeline")
def sd3_bundle(pipe) -> TeacherBundle:
    """SD3-style pipelines: flow-matching MMDiT on VAE latents, pooled + sequence text conditioning."""
    from ddmd_bench.training.parameterization import from_scheduler_config

    param = from_scheduler_config(dict(pipe.scheduler.config), type(pipe.scheduler).__name__)

    @torch.no_grad()
    def encode(prompts: list[str]) -> Cond:
        embeds, _, pooled, _ = pipe.encode_prompt(prompts, prompts, prompts, do_classifier_free_guidance=False,
                                                  device="cpu")
        return (embeds, pooled)

    net = pipe.transformer
    size = net.config.sample_size
    return TeacherBundle("sd3-transformer", net, encode, _sd3_call(param), param,
                         (net.config.in_channels, size, size),
                         few_step_scheduler_for(param, dict(pipe.scheduler.config)), extras={"pipeline": pipe})


def load_teacher(spec: str) -> TeacherBundle:
    """'toy' for the shipped toy teacher, or a local diffusers pipeline directory."""
    if spec == "toy":
        return FAMILIES.get("toy")()
    from pathlib import Path

    if not Path(spec).is_dir():
        raise FileNotFoundError(f"teacher {spec!r} is neither 'toy' nor a local diffusers pipeline directory")
    from ddmd_bench.utils.pipelines import load_pipeline

    pipe = load_pipeline(spec)
    bundle = FAMILIES.get(type(pipe).__name__)(pipe)
    for module in (getattr(pipe, n, None) for n in ("unet", "transformer", "text_encoder", "text_encoder_2", "vae")):
        if isinstance(module, torch.nn.Module):
            module.eval().requires_grad_(False)
    return bundle
