"""Sampling recipes of published distillation methods: the catalogue, command-line overrides and pre-load checks.

Running a recipe (building its pipeline, generating) is `ddmd_bench.generators.diffusers`.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from typing import Any

from ddmd_bench.recipes.catalog import RECIPES
from ddmd_bench.recipes.recipe import Recipe, SchedulerSpec
from ddmd_bench.registry import unknown_name_message


@dataclasses.dataclass(frozen=True, slots=True)
class Overrides:
    """Command-line changes to a recipe (`--steps`, `--guidance`, ...). A changed recipe gets a changed name."""

    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None  # "EulerDiscreteScheduler" or "EulerDiscreteScheduler:timestep_spacing=trailing"
    resolution: int | None = None
    eta: float | None = None

    def __post_init__(self) -> None:
        check_overrides(self)

    def items(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


class OverrideError(ValueError):
    """A recipe override is out of range or malformed; `option` is the command-line option it came from."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


# Closed ranges of the numeric overrides. Guidance below 0 has no meaning for any pipeline (0 and 1 switch CFG off,
# depending on the pipeline); DDIM's eta and TCD's gamma are mixing weights in [0, 1]. A NaN would pass every
# `guidance > 1` test as false and silently switch CFG off, so non-finite values are refused by name.
OVERRIDE_RANGES: dict[str, tuple[float, float]] = {"guidance": (0.0, math.inf), "eta": (0.0, 1.0)}


def check_overrides(overrides: Overrides) -> None:
    """Refuse non-finite or out-of-range overrides before anything is built."""
    for name, (low, high) in OVERRIDE_RANGES.items():
        value = getattr(overrides, name)
        if value is None:
            continue
        span = f"[{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}"
        if not math.isfinite(value):
            raise OverrideError(f"--{name}", f"{value} is not a finite number; give a value {span}")
        if not low <= value <= high:
            raise OverrideError(f"--{name}", f"{value:g} is out of range; give a value {span}")
    for name in ("steps", "resolution"):
        value = getattr(overrides, name)
        if value is not None and value < 1:
            raise OverrideError(f"--{name}", f"{value} must be >= 1")
    if overrides.scheduler is not None:
        parse_scheduler(overrides.scheduler, overrides.steps)


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
        scheduler = parse_scheduler(overrides.scheduler, overrides.steps or recipe.steps)
    if overrides.eta is not None:
        scheduler = dataclasses.replace(scheduler, eta=overrides.eta)
    changes.update(scheduler=scheduler)
    if overrides.guidance is not None:
        changes["guidance"] = overrides.guidance
    if overrides.resolution is not None:
        changes["resolution"] = overrides.resolution
    return dataclasses.replace(recipe, **changes)


def parse_scheduler(text: str, steps: int | None = None) -> SchedulerSpec:
    """'Cls' or 'Cls:key=value,key=value' (values parsed as JSON where they can be: numbers, true/false).

    Every key must be a config field of the class, and the class built with these values must accept `steps`
    (or 4) timesteps, so a bad value fails here, naming --scheduler, not after a pipeline has loaded."""
    import diffusers  # heavy backend: only when --scheduler is given (`methods list/show` stay fast)

    cls, _, opts = text.partition(":")
    if not cls.endswith("Scheduler") or not hasattr(diffusers, cls):
        choices = sorted(n for n in dir(diffusers) if n.endswith("Scheduler") and not n.startswith("_"))
        raise OverrideError("--scheduler", unknown_name_message("scheduler", cls, choices))
    config = _scheduler_config(text, opts, getattr(diffusers, cls))
    _try_scheduler(text, getattr(diffusers, cls), config, steps or 4)
    return SchedulerSpec(cls, config)


def _scheduler_config(text: str, opts: str, cls) -> dict[str, Any]:
    fields = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    config: dict[str, Any] = {}
    for item in opts.split(",") if opts else []:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise OverrideError("--scheduler", f"{item!r} in {text!r} is not key=value; write e.g. "
                                f"'{cls.__name__}:timestep_spacing=trailing'")
        if key not in fields:
            raise OverrideError("--scheduler", unknown_name_message(f"{cls.__name__} config field", key, fields))
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return config


def _try_scheduler(text: str, cls, config: dict[str, Any], steps: int) -> None:
    """Build the scheduler with and without the given values; a failure only the values cause is theirs."""
    def attempt(values: dict[str, Any]) -> Exception | None:
        try:
            cls(**values).set_timesteps(steps)
        except Exception as exc:  # whatever diffusers raises for a bad value (ValueError, TypeError, ...)
            return exc
        return None

    error = attempt(config)
    if error is not None and config and attempt({}) is None:
        raise OverrideError("--scheduler", f"{text!r} is refused by {cls.__name__} ({str(error) or type(error).__name__});"
                            f" fix the value")


def get_recipe(name: str) -> Recipe:
    """A published recipe by name (did-you-mean on a typo)."""
    return RECIPES.get(name)
