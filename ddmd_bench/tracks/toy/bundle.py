"""The toy teacher as a `TeacherBundle` for the generic trainer: the shipped pixel-space SD3-style transformer (flow
matching, CFG-trained), its toy text encoder, the world's noisy training captions and rendered real images."""

from __future__ import annotations

import torch

from ddmd_bench.tracks.toy import text, world
from ddmd_bench.tracks.toy.loaders import load_denoiser
from ddmd_bench.tracks.toy.models import TeacherConfig
from ddmd_bench.tracks.toy.pipeline import SCHEDULERS
from ddmd_bench.training.bundle import Cond, PromptSource, TeacherBundle
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.denoisers import sd3_call
from ddmd_bench.training.parameterization import PARAMETERIZATIONS

TEACHER = "toy"  # a `DistillConfig.teacher` naming the shipped toy teacher (anything else is a pipeline folder)


def training_prompts(seed: int) -> PromptSource:
    """Training captions of the toy world (noisy alt-text, as the teacher saw them) for run seed `seed`."""
    def prompts(step: int, n: int) -> list[str]:
        seeds = [seed * 1_000_000_007 + 500_000_000 + step * n + i for i in range(n)]
        return [world.caption(world.sample_scene(s), s) for s in seeds]

    return prompts


def real_data(seeds: list[int]) -> tuple[torch.Tensor, list[str]]:
    """Rendered toy-world images (x0 = uint8 / 127.5 - 1, the teacher's space) with their training captions."""
    batch = world.make_batch(seeds)
    return batch.images.float() / 127.5 - 1.0, list(batch.captions)


def toy_bundle() -> TeacherBundle:
    """The shipped toy teacher, with everything the trainer needs from the toy track."""
    model, tokenizer, meta = load_denoiser("teacher")
    param = PARAMETERIZATIONS.get("flow")()

    @torch.no_grad()
    def encode(prompts: list[str]) -> Cond:
        return model.encode(text.tokenize(tokenizer, prompts))

    res = meta["model_config"]["transformer"]["sample_size"]
    config = TeacherConfig.from_dict(meta["model_config"])
    return TeacherBundle("toy-teacher", model.transformer, encode, sd3_call(param), param, (3, res, res),
                         few_step_scheduler=lambda steps: SCHEDULERS.get("flow-dmd")(config, steps),
                         prompts=training_prompts, real_data=real_data, weights_sha256=meta["sha256"],
                         model_config=meta["model_config"])


def teacher_for(cfg: DistillConfig) -> TeacherBundle | None:
    """The toy teacher's bundle when `cfg` names it; None for a diffusers pipeline folder (the trainer loads it)."""
    return toy_bundle() if cfg.teacher == TEACHER else None
