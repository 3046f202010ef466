"""Generators by name: the registries that tracks and backends fill, and the one resolution path `evaluate` uses.

A name is either prefixed, `KIND:TARGET`, with KIND one of `KINDS` (`method:dmd2-sdxl-4step`, a published recipe;
`pipeline:/path/to/folder` or `pipeline:ORG/NAME@REV`, a whole diffusers pipeline; `checkpoint:{...}`, a student or
LoRA on a base pipeline or recipe; `run:RUN_DIR`, the student of a training run), or plain: a model shipped with a
track, by suite name or spec (`toy-teacher/euler-4/cfg3`, `teacher:steps=4,guidance=3`). Plain names, and the
suite evaluated when no generator is named, belong to the track registered as `DEFAULT_TRACK` in `SHIPPED`.

Entries are lazy registry references ('package.module:attribute'), so this module imports no track and no
backend; each is imported the first time a name of its kind is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ddmd_bench.generators.base import Generator
from ddmd_bench.registry import Registry

if TYPE_CHECKING:
    from ddmd_bench.generators.settings import RunSettings
    from ddmd_bench.recipes import Overrides


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    """Options of `evaluate` for diffusers generators (`method:NAME`, `pipeline:PATH`): overrides change the recipe
    (and its name), settings only how it runs; both are recorded. Shipped models take their options from their
    spec instead."""

    overrides: Overrides | None = None
    settings: RunSettings | None = None
    name: str | None = None  # the display name of the one generator a request names (a result file is named by it)


class Source(Protocol):
    """Builds the generator a prefixed name's target names (the part after 'KIND:')."""

    def __call__(self, target: str, options: GeneratorOptions) -> Generator: ...


class ShippedModels(Protocol):
    """A track's own models: plain names resolve here, and `default_suite` is what `evaluate` runs by default."""

    def resolve(self, name: str) -> Generator:
        """The generator a suite name or spec names (an error lists the suite and the shipped models)."""

    def default_suite(self) -> list[str]:
        """Names of the generators evaluated when none is named."""

    def compiled(self, name: str) -> str:
        """The same generator's name with torch.compile switched on."""


KINDS: Registry[Source] = Registry("generator kind")
KINDS.add_lazy("method", "ddmd_bench.generators.diffusers:from_method")
KINDS.add_lazy("pipeline", "ddmd_bench.generators.diffusers:from_pipeline")
KINDS.add_lazy("checkpoint", "ddmd_bench.generators.diffusers:from_checkpoint")
# a training run's student: built by the code that exports runs (a track's runs by that track), found lazily
KINDS.add_lazy("run", "ddmd_bench.training.export:run_generator")

SHIPPED: Registry[ShippedModels] = Registry("track with shipped models")
SHIPPED.add_lazy("toy", "ddmd_bench.tracks.toy.suite:SHIPPED")
DEFAULT_TRACK = "toy"  # plain names and the default suite are this track's (the one that runs on any CPU)


def resolve_generator(text: str, options: GeneratorOptions | None = None) -> Generator:
    """A generator from a suite name ('toy-teacher/euler-4/cfg3'), a shipped-model spec ('teacher:steps=4,
    guidance=3'), a published recipe ('method:dmd2-sdxl-4step') or a local pipeline folder ('pipeline:/path')."""
    kind, sep, target = text.partition(":")
    if sep and kind in KINDS:
        return KINDS.get(kind)(target, options or GeneratorOptions())
    if options is not None and options.name is not None:
        raise ValueError(f"a display name is given to checkpoints, pipelines, recipes and runs; {text!r} is a "
                         f"shipped model, named by its spec")
    return SHIPPED.get(DEFAULT_TRACK).resolve(text)


def default_suite() -> list[str]:
    """The generators `evaluate` runs when none is named."""
    return SHIPPED.get(DEFAULT_TRACK).default_suite()


def requested(names: list[str] | tuple[str, ...], compile: bool = False) -> list[str]:
    """The generators to run: `names`, or the default suite when none is named (the one place that falls back to
    it); with `compile`, each with torch.compile switched on."""
    chosen = list(names) or default_suite()
    return [with_compile(name) for name in chosen] if compile else chosen


def with_compile(text: str) -> str:
    """The same generator name with torch.compile switched on (prefixed kinds compile through their run settings,
    so their names stay as they are)."""
    kind, sep, _ = text.partition(":")
    if sep and kind in KINDS:
        return text
    return SHIPPED.get(DEFAULT_TRACK).compiled(text)
