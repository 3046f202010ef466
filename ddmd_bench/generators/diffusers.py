"""A `Generator` that runs a recipe's diffusers pipeline, with a trace of what the denoiser was actually called with.

The trace (calls per generate, the timesteps seen, the denoiser batch relative to the images, embedded guidance)
goes into every result record: a recipe that was silently run with the wrong scheduler or guidance shows it.

`from_method` (`method:NAME`, a published recipe), `from_pipeline` (`pipeline:PATH`, a local folder, or a hub id
`pipeline:ORG/NAME@REV`) and `from_checkpoint` (`checkpoint:...`, a student or LoRA on a base or a recipe; see
`ddmd_bench.generators.checkpoints`) are the sources `ddmd_bench.generators.resolve.KINDS` names.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import torch

from ddmd_bench.generators import checkpoints, pipelines
from ddmd_bench.generators.resolve import GeneratorOptions
from ddmd_bench.generators.settings import RunSettings
from ddmd_bench.recipes import Overrides, apply_overrides, get_recipe
from ddmd_bench.recipes.recipe import Recipe

log = logging.getLogger(__name__)


class DenoiserTrace:
    """Counts denoiser forwards of one `generate` call (a forward pre-hook; works with any call signature)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def hook(self, module, args, kwargs) -> None:
        sample = args[0] if args else next(kwargs[k] for k in ("sample", "hidden_states", "x") if k in kwargs)
        t = args[1] if len(args) > 1 else kwargs.get("timestep", kwargs.get("t"))
        entry = {"batch": len(sample) if isinstance(sample, (list, tuple)) else int(sample.shape[0]),
                 "timestep": _first(t)}
        if kwargs.get("guidance") is not None:
            entry["guidance_embedding"] = _first(kwargs["guidance"])
        self.calls.append(entry)

    def summary(self, n_images: int) -> dict[str, Any]:
        batches = sorted({c["batch"] for c in self.calls})
        out = {"images": n_images, "denoiser_calls": len(self.calls), "timesteps": [c["timestep"] for c in self.calls],
               "batch_per_image": [b / n_images for b in batches]}
        embedded = [c["guidance_embedding"] for c in self.calls if "guidance_embedding" in c]
        if embedded:
            out["guidance_embedding"] = sorted(set(embedded))
        return out


def _first(t) -> float | None:
    if t is None:
        return None
    value = t.flatten()[0].item() if isinstance(t, torch.Tensor) else float(t)
    return round(float(value), 6)  # Z-Image / FLUX feed sigma-like values: keep 1e-3 resolution in timestep units


class DiffusersGenerator:
    """Images from a recipe: one per (prompt, seed), the initial noise drawn on CPU from the seed so that the
    same (prompt, seed) gives the same start on any device and in any batch."""

    def __init__(self, recipe: Recipe, settings: RunSettings | None = None, name: str | None = None) -> None:
        self.recipe = recipe
        self.settings = settings or RunSettings()
        self.name = name or recipe.name
        self.prepared = pipelines.prepare(recipe, self.settings)  # all checks happen here, before any generation
        self._pipe = None
        self._trace = DenoiserTrace()
        self.last_trace: dict[str, Any] | None = None
        self._description: dict[str, Any] | None = None

    @property
    def device(self) -> torch.device:
        return self.settings.resolved_device()

    @property
    def resolution(self) -> int:
        """Height and width of the images (the recipe's), known before anything is loaded."""
        return self.recipe.resolution

    @property
    def nfe(self) -> int:
        """Denoiser passes per image (a CFG step counts 2)."""
        return self.recipe.forwards * (2 if self.recipe.uses_cfg else 1)

    def describe(self) -> dict[str, Any]:
        """The generator's identity (JSON-normalised): the full resolved recipe, the sha256 of every file it loads
        (`files`), the scheduler it samples with (class, saved config, overrides), the run settings and the diffusers
        version. Two runs reuse each other's results only when these are equal. Built once: the runner asks for it
        several times per run."""
        if self._description is None:
            self._description = self._describe()
        return self._description

    def _describe(self) -> dict[str, Any]:
        import diffusers  # heavy backend: its version is part of the identity, asked for once per generator

        return json.loads(json.dumps({
            "kind": "diffusers-recipe", "name": self.name, "recipe": self.recipe.to_dict(),
            "files": self.prepared.record(), "settings": self.settings.record(self.recipe.dtype),
            "scheduler": pipelines.scheduler_record(self.prepared), "nfe": self.nfe,
            "diffusers": diffusers.__version__}))

    def fresh(self) -> DiffusersGenerator:
        """An instance that has not loaded its pipeline, for timing a cold start: this one while nothing is loaded
        (its load then serves the run too), else a new one."""
        return self if self._pipe is None else DiffusersGenerator(self.recipe, self.settings, self.name)

    def load(self) -> None:
        """Load the pipeline now."""
        self.pipeline()

    def pipeline(self):
        """The loaded pipeline (built on first use), with the call counter attached."""
        if self._pipe is None:
            self._pipe = pipelines.load(self.prepared, self.settings)
            getattr(self._pipe, self.prepared.slot).register_forward_pre_hook(self._trace.hook, with_kwargs=True)
        return self._pipe

    def call_kwargs(self, prompts: list[str], seeds: list[int]) -> dict[str, Any]:
        """Arguments of the pipeline call for one batch."""
        r = self.recipe
        kwargs: dict[str, Any] = {"prompt": prompts, "num_inference_steps": r.steps, "guidance_scale": r.guidance,
                                  "height": r.resolution, "width": r.resolution, "output_type": "pt",
                                  "generator": [torch.Generator("cpu").manual_seed(s) for s in seeds],
                                  **r.call_kwargs}
        if r.scheduler.timesteps is not None:
            kwargs["timesteps"] = list(r.scheduler.timesteps)
        if r.scheduler.eta is not None:
            kwargs["eta"] = r.scheduler.eta
        if r.negative_prompt is not None and r.uses_cfg:
            kwargs["negative_prompt"] = [r.negative_prompt] * len(prompts)
        return kwargs

    @torch.inference_mode()
    def generate(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        """uint8 [N, 3, H, W]."""
        pipe = self.pipeline()
        self._trace.calls.clear()
        images = pipe(**self.call_kwargs(prompts, seeds)).images
        self.last_trace = {**self._trace.summary(len(prompts)), "scheduler": type(pipe.scheduler).__name__,
                           "scheduler_config": {k: pipe.scheduler.config.get(k) for k in self.recipe.scheduler.config}}
        images = torch.as_tensor(images).float()
        if not torch.isfinite(images).all():
            raise FloatingPointError(f"{self.name}: the pipeline produced non-finite pixels "
                                     f"(try --dtype float32 or --vae-slicing off)")
        return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def from_method(name: str, options: GeneratorOptions) -> DiffusersGenerator:
    """A published method's recipe (`method:NAME`), with the command line's overrides and run settings."""
    return recipe_generator(get_recipe(name), options)


def from_pipeline(target: str, options: GeneratorOptions) -> DiffusersGenerator:
    """The generic recipe of a whole pipeline (`pipeline:TARGET`): a local folder, or a hub repository id
    `ORG/NAME` or `ORG/NAME@REVISION` resolved through the HF cache, with overrides and settings."""
    return recipe_generator(checkpoints.pipeline_recipe(target, options.settings or RunSettings()), options)


def from_checkpoint(target: str, options: GeneratorOptions) -> DiffusersGenerator:
    """A student or LoRA on a base pipeline or a published recipe (`checkpoint:TARGET`, the text form of a
    `checkpoints.CheckpointSpec`), with overrides and settings."""
    spec = checkpoints.CheckpointSpec.parse(target)
    return recipe_generator(checkpoints.checkpoint_recipe(spec, options.settings or RunSettings()), options)


def recipe_generator(recipe: Recipe, options: GeneratorOptions) -> DiffusersGenerator:
    """A generator of `recipe` after the overrides (which rename it), shown under `options.name` when one is given."""
    return DiffusersGenerator(apply_overrides(recipe, options.overrides or Overrides()), options.settings,
                              options.name)
