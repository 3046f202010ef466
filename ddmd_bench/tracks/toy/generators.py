"""Toy-track generators: a shipped toy denoiser run with a diffusers scheduler, steps and guidance."""

from __future__ import annotations

from typing import Any

import torch

from ddmd_bench.tracks.toy.generator_specs import ToyGeneratorSpec
from ddmd_bench.tracks.toy.loaders import load_denoiser
from ddmd_bench.tracks.toy.models import TeacherConfig
from ddmd_bench.tracks.toy.pipeline import SCHEDULERS, ToySampler


class CompiledDenoiser(torch.nn.Module):
    """A shipped denoiser whose transformer runs through `torch.compile` (the cached eager model is untouched)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.compiled = torch.compile(model.transformer)

    def encode(self, input_ids: torch.Tensor):
        """Text conditioning, as the eager model."""
        return self.model.encode(input_ids)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond) -> torch.Tensor:
        """Velocity through the compiled transformer."""
        hidden, pooled = cond
        return self.compiled(x, hidden, pooled, sigma * 1000.0, return_dict=False)[0]


class ToyGenerator:
    """A `Generator` over a shipped toy model."""

    def __init__(self, spec: ToyGeneratorSpec, cached: bool = True, name: str | None = None) -> None:
        SCHEDULERS.get(spec.scheduler)  # fail on a bad name before loading anything
        if spec.steps < 1:
            raise ValueError(f"steps must be >= 1, got {spec.steps}")
        self.spec = spec
        self.name = name or spec.name
        model, tokenizer, self._meta = self._load(cached)
        if spec.compile:
            model = CompiledDenoiser(model)
        self._config = TeacherConfig.from_dict(self._meta["model_config"])
        self.sampler = ToySampler(model, tokenizer, SCHEDULERS.get(spec.scheduler)(self._config, spec.steps), spec.steps,
                                  spec.guidance)

    def _load(self, cached: bool) -> tuple[torch.nn.Module, object, dict[str, Any]]:
        """(denoiser, tokenizer, meta) of the shipped model the spec names; `cached=False` reads it again."""
        return load_denoiser(self.spec.model, cached)

    def fresh(self) -> ToyGenerator:
        """A new instance that reads, verifies and builds its weights again (no shared cache): its construction is
        the load a cold start times."""
        return ToyGenerator(self.spec, cached=False)

    def load(self) -> None:
        """Nothing to do: a toy generator loads its weights when it is built."""

    def generate(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        """uint8 images [N, 3, 16, 16]."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        return self.sampler.sample(prompts, seeds)

    def stage_seconds(self) -> dict[str, float]:
        """Wall time of each stage of the last `generate` call."""
        return dict(self.sampler.last_stage_seconds)

    @property
    def nfe(self) -> int:
        """Denoiser evaluations per image; a flow-Heun step evaluates twice (except the last)."""
        per_step = 2 if self.spec.guidance != 1.0 else 1
        scheduler = self.sampler.scheduler
        scheduler.set_timesteps(self.spec.steps)
        return per_step * len(scheduler.timesteps)

    def describe(self) -> dict[str, Any]:
        """Reproduction record: weights sha256, scheduler class and config, timesteps, guidance, dtype."""
        scheduler = self.sampler.scheduler
        scheduler.set_timesteps(self.spec.steps)
        return {
            "name": self.name, "track": "toy", "model": self.spec.model, "weights_sha256": self._meta["sha256"],
            "scheduler": {"name": self.spec.scheduler, "class": type(scheduler).__name__,
                          "config": {k: v for k, v in dict(scheduler.config).items() if not k.startswith("_")}},
            "timesteps": [round(float(t), 4) for t in scheduler.timesteps], "steps": self.spec.steps,
            "guidance": self.spec.guidance, "negative_prompt": "", "nfe": self.nfe, "dtype": "float32",
            "device": "cpu", "resolution": 16,
            "compile": "torch.compile(transformer, mode=default)" if self.spec.compile else "none",
        }
