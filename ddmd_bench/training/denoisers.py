"""Teachers from diffusers pipelines, as the trainer sees them (a `TeacherBundle`, bundle.py).

A bundle hides the model family: an SD1.5/SDXL-style UNet pipeline or an SD3-style flow transformer pipeline here;
a track builds its own bundle from its own network. Students and fake models are copies of `bundle.net`
(optionally with LoRA), all called through `bundle.call`, so the loss code never sees a model class.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ddmd_bench.registry import Registry
from ddmd_bench.training.bundle import Cond, TeacherBundle
from ddmd_bench.training.parameterization import from_scheduler_config
from ddmd_bench.generators.pipelines import load_pipeline

log = logging.getLogger(__name__)

FAMILIES: Registry = Registry("teacher family")


def flow_few_step_scheduler(config: dict | None = None):
    """DMD students of flow teachers: diffusers' stochastic flow Euler (predict x0, re-noise with fresh noise), with
    `shift_terminal = 1/steps` so 4 steps give 1, .75, .5, .25 before the teacher's shift (DMD2's grid)."""
    from diffusers import FlowMatchEulerDiscreteScheduler  # heavy backend, imported when a teacher is built

    def build(steps: int):
        cfg = {k: v for k, v in (config or {}).items() if not k.startswith("_")}
        return FlowMatchEulerDiscreteScheduler.from_config(
            {**cfg, "stochastic_sampling": True, "shift_terminal": 1.0 / steps if steps > 1 else None,
             "use_dynamic_shifting": False})
    return build


def vp_few_step_scheduler(config: dict):
    """DMD students of epsilon/v teachers: LCMScheduler with original_inference_steps = steps gives DMD2's
    [999, 749, 499, 249] for 4 steps; its boundary scalings at these timesteps change x0 by < 1e-7 relative."""
    from diffusers import LCMScheduler  # heavy backend, imported when a teacher is built

    def build(steps: int):
        cfg = {k: v for k, v in config.items() if not k.startswith("_")}
        return LCMScheduler.from_config({**cfg, "original_inference_steps": steps})
    return build


def few_step_scheduler_for(param, config: dict):
    """The few-step sampler matching a teacher's parameterisation."""
    return flow_few_step_scheduler(config) if param.name == "flow" else vp_few_step_scheduler(config)


def sd3_call(param):
    """How an SD3-style transformer is called: (hidden states, pooled) conditioning, timesteps from sigma."""
    def call(net, x, sigma, cond):
        hidden, pooled = cond
        return net(x, hidden, pooled, param.timestep(sigma), return_dict=False)[0]
    return call


@FAMILIES.register("StableDiffusionPipeline")
def sd_unet_bundle(pipe) -> TeacherBundle:
    """SD1.5-style pipelines: UNet2DConditionModel on VAE latents, CLIP text encoder, epsilon or v prediction."""
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
                         few_step_scheduler_for(param, dict(pipe.scheduler.config)), pipeline=pipe)


@FAMILIES.register("StableDiffusion3Pipeline")
def sd3_bundle(pipe) -> TeacherBundle:
    """SD3-style pipelines: flow-matching MMDiT on VAE latents, pooled + sequence text conditioning."""
    param = from_scheduler_config(dict(pipe.scheduler.config), type(pipe.scheduler).__name__)

    @torch.no_grad()
    def encode(prompts: list[str]) -> Cond:
        embeds, _, pooled, _ = pipe.encode_prompt(prompts, prompts, prompts, do_classifier_free_guidance=False,
                                                  device="cpu")
        return (embeds, pooled)

    net = pipe.transformer
    size = net.config.sample_size
    return TeacherBundle("sd3-transformer", net, encode, sd3_call(param), param,
                         (net.config.in_channels, size, size),
                         few_step_scheduler_for(param, dict(pipe.scheduler.config)), pipeline=pipe)


def load_teacher(spec: str) -> TeacherBundle:
    """The teacher of a local diffusers pipeline directory. A track's named teacher (a config's `teacher` that is
    not a folder) comes as a bundle from its track and is passed to the trainer directly."""
    if not Path(spec).is_dir():
        raise FileNotFoundError(f"teacher {spec!r} is not a local diffusers pipeline directory; a track's own "
                                f"teacher reaches the trainer as a bundle (the track's `train` command passes it)")
    pipe = load_pipeline(spec)
    bundle = FAMILIES.get(type(pipe).__name__)(pipe)
    for module in (getattr(pipe, n, None) for n in ("unet", "transformer", "text_encoder", "text_encoder_2", "vae")):
        if isinstance(module, torch.nn.Module):
            module.eval().requires_grad_(False)
    return bundle
