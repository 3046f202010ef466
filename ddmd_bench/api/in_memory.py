"""A `DiffusionPipeline` object as a generator: sampled in memory, identified by its saved bytes.

The pipeline is saved (`save_pretrained`, safetensors) to a folder first, and the generator is the one
`ddmd-bench evaluate --pipeline FOLDER` would build from that folder: the same recipe (the pipeline's scheduler and
call defaults), the same checks, and an identity holding the sha256 of every saved file. Images come from the
caller's object itself, not a reloaded copy, on its own device and in its own dtype (both recorded); only the cold
start loads the saved copy, since timing a load is what a cold start measures.
"""

from __future__ import annotations

import copy
import logging
import shutil
from pathlib import Path

import diffusers
import torch

from ddmd_bench.generators.diffusers import DiffusersGenerator
from ddmd_bench.generators.settings import DTYPES, RunSettings
from ddmd_bench.recipes import Overrides, apply_overrides
from ddmd_bench.recipes.generic import generic_recipe
from ddmd_bench.utils.distributed import World

log = logging.getLogger(__name__)

DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


class InMemoryPipeline(DiffusersGenerator):
    """The generator of a pipeline object, described from its copy saved in `folder` (which stays until the run
    ends: the cold start loads it)."""

    def __init__(self, pipe, folder: Path, overrides: Overrides | None = None, name: str | None = None) -> None:
        if pipe.dtype not in DTYPE_NAMES:
            raise ValueError(f"the pipeline runs in {pipe.dtype}; evaluation supports {', '.join(DTYPES)}")
        settings = RunSettings(device=str(pipe.device), dtype=DTYPE_NAMES[pipe.dtype])
        super().__init__(apply_overrides(generic_recipe(folder), overrides or Overrides()), settings, name)
        self.source = pipe
        self._hook = None
        self.describe()  # hash the saved files once, now

    def pipeline(self):
        """The caller's pipeline, sampled as the recipe says: a shallow copy that shares every module (no weight is
        copied) and carries the recipe's scheduler, so the caller's object keeps its own scheduler."""
        if self._pipe is None:
            pipe = copy.copy(self.source)
            spec = self.recipe.scheduler
            cls = getattr(diffusers, spec.cls) if spec.cls else type(pipe.scheduler)
            pipe.scheduler = cls.from_config(pipe.scheduler.config, **spec.config)
            pipe.set_progress_bar_config(disable=True)
            denoiser = getattr(pipe, self.prepared.slot)
            self._hook = denoiser.register_forward_pre_hook(self._trace.hook, with_kwargs=True)
            self._pipe = pipe
        return self._pipe

    def fresh(self) -> DiffusersGenerator:
        """For the cold start: the generator of the saved copy, which loads it from disk."""
        return DiffusersGenerator(self.recipe, self.settings, self.name)

    def close(self) -> None:
        """Take the call counter off the caller's denoiser."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self._pipe = None


def save_for_evaluation(pipe, folder: Path, world: World) -> Path:
    """Rank 0 saves the pipeline to `folder` (replacing what is there); every rank then reads that one copy, so
    all ranks share one identity. Under torchrun each rank holds its own object with the same weights."""
    if world.is_main:
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            pipe.save_pretrained(folder, safe_serialization=True)
        log.info("saved the pipeline to %s to hash its files", folder)
    world.barrier()
    return folder
