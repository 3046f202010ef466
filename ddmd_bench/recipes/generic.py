"""The generic recipe: any local diffusers pipeline folder, sampled with its own scheduler and defaults.

The recipe is named `pipeline:<folder name>@<content hash>`: the hash covers every file the pipeline loads.

Defaults come from the folder itself, never guessed per model: the saved scheduler, the pipeline's call defaults
(`num_inference_steps`, `guidance_scale`), the denoiser's sample size times the VAE's scale factor, and, for a
student exported by our trainer, the steps and guidance in its `ddmd_bench.json`.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from ddmd_bench import hashing
from ddmd_bench.recipes.checks import check_pipeline_folder
from ddmd_bench.recipes.recipe import Recipe, Repo, SchedulerSpec
from ddmd_bench.utils.pipelines import pipeline_files

CONTENT_TAG_CHARS = 8
FALLBACK_LATENT_SIZE = 128  # SD3 / FLUX / Z-Image pipelines default to 128 latents x 8 = 1024 px


def generic_recipe(path: str | Path) -> Recipe:
    """A recipe that reproduces `DiffusionPipeline.from_pretrained(path)(prompt)` with no extra arguments."""
    import diffusers  # heavy backend: only when a local pipeline folder is evaluated

    path = Path(path)
    index = check_pipeline_folder(path, None)
    cls_name = index["_class_name"]
    pipeline_cls = getattr(diffusers, cls_name)
    params = inspect.signature(pipeline_cls.__call__).parameters
    steps = _default(params, "num_inference_steps", 50)
    guidance = _default(params, "guidance_scale", 1.0)
    ours = path / "ddmd_bench.json"
    notes = "generic recipe: the folder's own scheduler and the pipeline's call defaults"
    if ours.is_file():
        info = json.loads(ours.read_text())
        steps, guidance = info["num_inference_steps"], info["guidance_scale"]
        notes = "a student exported by `ddmd-bench train`: steps and guidance from its ddmd_bench.json"
    scheduler = json.loads((path / "scheduler" / "scheduler_config.json").read_text())["_class_name"]
    slot = "unet" if isinstance(index.get("unet"), list) and index["unet"][0] else "transformer"
    order = getattr(getattr(diffusers, scheduler), "order", 1)
    return Recipe(
        name=f"pipeline:{path.name}@{content_tag(path)}", method="local pipeline", pipeline=cls_name,
        base=Repo(str(path), local=str(path)),
        scheduler=SchedulerSpec(scheduler), steps=steps, guidance=guidance, resolution=_resolution(path, slot),
        forwards=steps if order == 1 else order * steps - 1, dtype="float16" if slot == "unet" else "bfloat16",
        sources=(str(path),), notes=notes)


def content_tag(path: Path) -> str:
    """A short hash of everything the folder's pipeline loads: folders with the same name but other weights,
    configs or tokenizers get distinct names (and result files), copies of the same folder the same one."""
    return hashing.manifest_digest(hashing.digest_files(path, pipeline_files(path)))[:CONTENT_TAG_CHARS]


def _default(params, name: str, fallback):
    value = params[name].default if name in params else inspect.Parameter.empty
    return fallback if value in (inspect.Parameter.empty, None) else value


def _resolution(path: Path, slot: str) -> int:
    config = json.loads((path / slot / "config.json").read_text())
    vae_file = path / "vae" / "config.json"
    factor = 2 ** (len(json.loads(vae_file.read_text()).get("block_out_channels", [0] * 4)) - 1) \
        if vae_file.is_file() else 8
    size = config.get("sample_size") or FALLBACK_LATENT_SIZE
    return int(size) * factor
