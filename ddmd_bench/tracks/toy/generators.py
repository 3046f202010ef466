"""Toy-track generators: a shipped toy denoiser run with a diffusers scheduler, steps and guidance."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import torch

from ddmd_bench.tracks.toy.loaders import load_denoiser
from ddmd_bench.tracks.toy.models import TeacherConfig
from ddmd_bench.tracks.toy.pipeline import SCHEDULERS, ToySampler


@dataclass(frozen=True, slots=True)
class ToyGeneratorSpec:
    """Which shipped toy model to sample, and how."""

    model: str = "teacher"
    steps: int = 50
    guidance: float = 1.0  # 1.0 = no classifier-free guidance (a single conditional pass per step)
    scheduler: str = "flow-euler"
    compile: bool = False  # torch.compile the transformer (recorded; the name gets a '+compile' suffix)

    @property
    def name(self) -> str:
        """Short display name, e.g. 'toy-teacher/euler-50/cfg3'."""
        cfg = "nocfg" if self.guidance == 1.0 else f"cfg{self.guidance:g}"
        name = f"toy-{self.model}/{self.scheduler.removeprefix('flow-')}-{self.steps}/{cfg}"
        return name + ("+compile" if self.compile else "")

    @classmethod
    def parse(cls, text: str, defaults: dict[str, Any] | None = None) -> ToyGeneratorSpec:
        """Inverse of `name`: 'toy-teacher/euler-8/cfg3' or 'teacher:steps=8,guidance=3'; `defaults` (per model,
        e.g. a student's own sampler) fill the options that `text` leaves out."""
        m = re.fullmatch(r"toy-(\w[\w-]*)/(\w+)-(\d+)/(nocfg|cfg[\d.]+)(\+compile)?", text)
        if m:
            guidance = "1" if m[4] == "nocfg" else m[4][3:]
            return cls(m[1], _option(text, "steps", m[3]), _option(text, "guidance", guidance), f"flow-{m[2]}",
                       bool(m[5]))
        model, _, opts = text.partition(":")
        kwargs: dict[str, Any] = dict((defaults or {}).get(model.removeprefix("toy-"), {}))
        for item in filter(None, opts.split(",")):
            key, sep, value = item.partition("=")
            if key not in OPTION_HELP:
                raise ValueError(f"unknown toy generator option {key!r} in {text!r} "
                                 f"(steps, guidance, scheduler, compile)")
            if not sep or not value:
                raise ValueError(f"{text!r}: option {key!r} has no value; write {key}=<{OPTION_HELP[key]}>")
            kwargs[key] = _option(text, key, value)
        return cls(model.removeprefix("toy-"), **kwargs)


# What each option of a toy spec takes (shown when a value is refused).
OPTION_HELP = {"steps": "an integer >= 1", "guidance": "a finite number >= 0 (1 = no CFG)",
               "scheduler": "a toy scheduler name, e.g. flow-euler", "compile": "1 or 0"}


def _option(text: str, key: str, value: str) -> Any:
    """One option's value, or an error naming the spec, the option and what it takes."""
    try:
        if key == "steps":
            parsed: Any = int(value)
            ok = parsed >= 1
        elif key == "guidance":
            parsed = float(value)
            ok = math.isfinite(parsed) and parsed >= 0  # NaN would make `guidance == 1.0` false: CFG with NaN
        elif key == "compile":
            parsed, ok = value.lower() in ("1", "true", "yes"), value.lower() in ("1", "0", "true", "false", "yes", "no")
        else:
            parsed, ok = value, True
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{text!r}: {key}={value} is not valid; {key} takes {OPTION_HELP[key]}")
    return parsed


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

    def __init__(self, spec: ToyGeneratorSpec, cached: bool = True) -> None:
        SCHEDULERS.get(spec.scheduler)  # fail on a bad name before loading anything
        if spec.steps < 1:
            raise ValueError(f"steps must be >= 1, got {spec.steps}")
        self.spec = spec
        self.name = spec.name
        model, tokenizer, self._meta = load_denoiser(spec.model, cached)
        if spec.compile:
            model = CompiledDenoiser(model)
        self._config = TeacherConfig.from_dict(self._meta["model_config"])
        self.sampler = ToySampler(model, tokenizer, SCHEDULERS.get(spec.scheduler)(self._config, spec.steps), spec.steps,
                                  spec.guidance)

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
