"""Sampling recipes of published distillation methods: catalogue, checks, pipeline building, generator."""

from __future__ import annotations

import dataclasses
from typing import Any

from ddmd_bench.recipes.catalog import RECIPES
from ddmd_bench.recipes.recipe import Recipe, SchedulerSpec


@dataclasses.dataclass(frozen=True, slots=True)
class Overrides:
    """Command-line changes to a recipe (`--steps`, `--guidance`, ...). A changed recipe gets a changed name."""

    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None  # "EulerDiscreteScheduler" or "EulerDiscreteScheduler:timestep_spacing=trailing"
    resolution: int | None = None
    eta: float | None = None

    def items(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def apply_overrides(recipe: Recipe, overrides: Overrides) -> Recipe:
    """The recipe with the overrides applied; refuses combinations that would silently change its meaning."""
    items = overrides.items()
    if not items:
        return recipe
    changes: dict[str, Any] = {"name": f"{recipe.name}[{','.join(f'{k}={v}' for k, v in items.items())}]"}
    scheduler = recipe.scheduler
    if overrides.steps is not None:
        if scheduler.timesteps is not None and len(scheduler.timesteps) != overrides.steps:
            raise ValueError(f"{recipe.name} samples on fixed timesteps {list(scheduler.timesteps)}; --steps "
                             f"{overrides.steps} would not match them (use a recipe trained for that many steps)")
        changes.update(steps=overrides.steps, forwards=overrides.steps)
    if overrides.scheduler is not None:
        scheduler = parse_scheduler(overrides.scheduler)
    if overrides.eta is not None:
        scheduler = dataclasses.replace(scheduler, eta=overrides.eta)
    changes.update(scheduler=scheduler)
    if overrides.guidance is not None:
        changes["guidance"] = overrides.guidance
    if overrides.resolution is not None:
        changes["resolution"] = overrides.resolution
    return dataclasses.replace(recipe, **changes)


def parse_scheduler(text: str) -> SchedulerSpec:
    """'Cls' or 'Cls:key=value,key=value' (values parsed as JSON where they can be: numbers, true/false)."""
    import json

    import diffusers

    cls, _, opts = text.partition(":")
    if not cls.endswith("Scheduler") or not hasattr(diffusers, cls):
        from ddmd_bench.registry import unknown_name_message

        choices = sorted(n for n in dir(diffusers) if n.endswith("Scheduler") and not n.startswith("_"))
        raise ValueError(unknown_name_message("scheduler", cls, choices))
    config: dict[str, Any] = {}
    for item in filter(None, opts.split(",")):
        key, _, value = item.partition("=")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return SchedulerSpec(cls, config)


def get_recipe(name: str) -> Recipe:
    """A published recipe by name (did-you-mean on a typo)."""
    return RECIPES.get(name)
