"""A local hub holding every repository the recipe catalogue names, built from tiny random components in the
layout of the real checkpoints: base pipelines with their scheduler configs, full UNet files (safetensors and
pickle), diffusers UNet folders, and LoRA files written with peft and diffusers' own LoRA writer."""

from __future__ import annotations

from pathlib import Path

import torch

from ddmd_bench.recipes.catalog import RECIPES
from tests import factories as T

# The schedulers saved in each base repository (the parts of the real configs that decide the timesteps).
SD_BETAS = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)


def _schedulers():
    import diffusers as d

    return {
        "stable-diffusion-v1-5/stable-diffusion-v1-5": lambda: d.PNDMScheduler(
            **SD_BETAS, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False),
        "stabilityai/stable-diffusion-xl-base-1.0": lambda: d.EulerDiscreteScheduler(
            **SD_BETAS, steps_offset=1, timestep_spacing="leading"),
        "stabilityai/sd-turbo": lambda: d.EulerDiscreteScheduler(**SD_BETAS, steps_offset=1, timestep_spacing="trailing"),
        "stabilityai/sdxl-turbo": lambda: d.EulerAncestralDiscreteScheduler(**SD_BETAS, steps_offset=1,
                                                                          timestep_spacing="trailing"),
        "stabilityai/stable-diffusion-3.5-large-turbo": lambda: d.FlowMatchEulerDiscreteScheduler(shift=3.0),
        "black-forest-labs/FLUX.1-schnell": lambda: d.FlowMatchEulerDiscreteScheduler(shift=1.0),
        "black-forest-labs/FLUX.1-dev": lambda: d.FlowMatchEulerDiscreteScheduler(
            shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15),
        "Tongyi-MAI/Z-Image-Turbo": lambda: d.FlowMatchEulerDiscreteScheduler(shift=3.0),
        "Tongyi-MAI/Z-Image": lambda: d.FlowMatchEulerDiscreteScheduler(shift=6.0),
    }


def _base_writer(repo_id: str, pipeline: str, variant: str | None):
    scheduler = _schedulers()[repo_id]()
    writers = {
        "StableDiffusionPipeline": lambda f: T.sd15(f, scheduler),
        "StableDiffusionXLPipeline": lambda f: T.sdxl(f, scheduler, variant),
        "StableDiffusion3Pipeline": lambda f: T.sd3(f, scheduler),
        "FluxPipeline": lambda f: T.flux(f, scheduler, guidance_embeds=repo_id.endswith("dev")),
        "ZImagePipeline": lambda f: T.zimage(f, scheduler),
    }
    return writers[pipeline]


def _unet(pipeline: str, **overrides):
    torch.manual_seed(1)
    net = T.sdxl_unet(**overrides) if pipeline == "StableDiffusionXLPipeline" else T.sd15_unet()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))  # a "distilled" network: different from the base
    return net


def _write_unet_file(path: Path, pipeline: str) -> None:
    state = {k: v.contiguous() for k, v in _unet(pipeline).state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:  # the published DMD2 UNets are torch.save pickles of a state dict
        torch.save(state, path)


def _write_lora(path: Path, pipeline: str) -> None:
    import diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    net = _unet(pipeline)
    net.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                               init_lora_weights=False))
    layers = get_peft_model_state_dict(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    getattr(diffusers, pipeline).save_lora_weights(str(path.parent), unet_lora_layers=layers, weight_name=path.name,
                                                   safe_serialization=True)


def _write_unet_folder(folder: Path, recipe) -> None:
    net = _unet(recipe.pipeline, time_cond_proj_dim=32) if recipe.guidance_embedded else _unet(recipe.pipeline)
    net.save_pretrained(folder, variant=recipe.variant)


def build_hub(root: Path, only: tuple[str, ...] | None = None) -> T.HubCache:
    """Every base and student repository of the catalogue (or of the recipes in `only`), under `root` (an
    HF_HUB_CACHE)."""
    hub = T.HubCache(root)
    bases: dict[str, tuple[str, str | None]] = {}
    students: dict[str, list] = {}
    for name in only or RECIPES.names():
        r = RECIPES.get(name)
        bases.setdefault(r.base.repo_id, (r.pipeline, r.variant))
        if r.student is not None:
            students.setdefault(r.student.repo.repo_id, []).append(r)
    for repo_id, (pipeline, variant) in bases.items():
        hub.add(repo_id, _base_writer(repo_id, pipeline, variant))
    for repo_id, recipes in students.items():
        hub.add(repo_id, lambda folder, recipes=recipes: _write_students(folder, recipes))
    return hub


def _write_students(folder: Path, recipes) -> None:
    for r in recipes:
        s = r.student
        if s.kind == "lora":
            _write_lora(folder / s.filename, r.pipeline)
        elif s.filename:
            _write_unet_file(folder / s.filename, r.pipeline)
        else:
            _write_unet_folder(folder / (s.subfolder or "."), r)
