"""The teacher bundle: everything the generic trainer needs from whoever supplies a teacher.

A bundle carries the frozen teacher network and how to call it (its conditioning encoder, parameterisation and
few-step scheduler), plus what only its owner knows: the captions it was trained on, real images with captions for
the GAN term, and the facts a checkpoint records about it. The trainer, the losses and the GAN head only ever see
this object, so a track (or a diffusers pipeline folder) plugs in a teacher without the trainer importing it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ddmd_bench.training.parameterization import Parameterization

Cond = tuple[torch.Tensor, ...]  # a teacher's conditioning, field by field, batch first
PromptSource = Callable[[int, int], list[str]]  # (step, batch size) -> training prompts of that step
RealData = Callable[[list[int]], tuple[torch.Tensor, list[str]]]  # seeds -> (x0 in the teacher's space, captions)


def cat_cond(*conds: Cond) -> Cond:
    """Concatenate conditionings along the batch dimension, field by field."""
    return tuple(torch.cat(parts) for parts in zip(*conds))


@dataclass(frozen=True)
class TeacherBundle:
    """A frozen teacher: `net` is what students copy; `call(net, x, sigma, cond)` returns its raw output.

    The optional fields are what the teacher's owner supplies beyond the network: `prompts(seed)` its training
    captions for a run seed (else the run needs a prompt file), `real_data` real images for the GAN term (else that
    term is unavailable), `weights_sha256` and `model_config` (recorded in checkpoints and exports; a resumed run
    refuses a teacher whose weights changed), and `pipeline`, the diffusers pipeline it came from (for exporting a
    student pipeline)."""

    name: str
    net: torch.nn.Module
    encode: Callable[[list[str]], Cond]
    call: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, Cond], torch.Tensor]
    parameterization: Parameterization
    sample_shape: tuple[int, int, int]
    few_step_scheduler: Callable[[int], Any] | None = None
    supports_cfg: bool = True
    prompts: Callable[[int], PromptSource] | None = field(default=None, kw_only=True)
    real_data: RealData | None = field(default=None, kw_only=True)
    weights_sha256: str | None = field(default=None, kw_only=True)
    model_config: dict[str, Any] | None = field(default=None, kw_only=True)
    pipeline: Any = field(default=None, kw_only=True)

    def record(self) -> dict[str, Any]:
        """What checkpoints and exports record about the teacher (its weights and model config, when known)."""
        facts = {"teacher_sha256": self.weights_sha256, "model_config": self.model_config}
        return {k: v for k, v in facts.items() if v is not None}

    def student_sigmas(self, steps: int) -> torch.Tensor:
        """Noise levels of a `steps`-step student: read from the few-step scheduler it will be sampled with, so
        training and sampling can never disagree."""
        scheduler = self.few_step_scheduler(steps)
        scheduler.set_timesteps(steps)
        return self.parameterization.levels(scheduler)

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
