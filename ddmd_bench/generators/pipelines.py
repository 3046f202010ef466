"""Diffusers pipelines from disk, always through the same checks: recipes (two phases) and plain local folders.

`prepare` resolves every repository of a recipe to a local folder at a commit and checks every file (formats,
pipeline class, remote code) without loading a tensor, so `evaluate` can reject bad input for all methods before
generating anything. `load` then builds the pipeline: base components, the student network or LoRA, the recipe's
scheduler, and the practical options. `load_pipeline` is the one call that reads a pipeline folder (recipes'
bases, and teachers for training), after the same folder checks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ddmd_bench import hashing, resolver
from ddmd_bench.generators.settings import DTYPES, RunSettings
from ddmd_bench.recipes.checks import RecipeInputError, check_model_folder, check_pipeline_folder, check_weights_file
from ddmd_bench.recipes.recipe import Recipe, StudentWeights
from ddmd_bench.utils.pipelines import pipeline_files

log = logging.getLogger(__name__)

DENOISER_SLOTS = ("unet", "transformer")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A recipe whose files are all present and checked."""

    recipe: Recipe
    base: resolver.Snapshot
    slot: str  # "unet" or "transformer"
    student_path: Path | None = None  # a file, or a model folder
    student_commit: str | None = None
    student_format: str | None = None  # "safetensors", "pickle" or "diffusers-folder"
    lora: WeightFiles | None = None  # the recipe's `lora`, applied on top of the student network

    def record(self) -> dict[str, Any]:
        """Where every file came from: repository, commit (None for a local folder), and the size and sha256 of
        every file loaded from it, with one `content_sha256` over them."""
        out: dict[str, Any] = {"base": {"repo": self.base.repo_id, "commit": self.base.commit,
                                        **_files_record(self.base.path, pipeline_files(self.base.path))}}
        if self.student_path is not None:
            out["student"] = WeightFiles(self.student_path, self.student_commit, self.student_format).record(
                self.recipe.student)
        if self.lora is not None:
            out["lora"] = self.lora.record(self.recipe.lora)
        return out


@dataclass(frozen=True, slots=True)
class WeightFiles:
    """Checked weights on disk: a file or a model folder, the commit it came from and its format."""

    path: Path
    commit: str | None
    format: str  # "safetensors", "pickle" or "diffusers-folder"

    def record(self, weights: StudentWeights) -> dict[str, Any]:
        """Repository, commit, format, and the sha256 of every file (`sha256` itself for a single file)."""
        out = {"repo": weights.repo.label, "commit": self.commit, "path_in_repo": weights.filename or
               weights.subfolder, "format": self.format}
        if self.path.is_file():
            files = _files_record(self.path.parent, [self.path])
            return {**out, "sha256": files["files"][0]["sha256"], **files}
        return {**out, **_files_record(self.path, hashing.folder_files(self.path))}


def _files_record(root: Path, files: list[Path]) -> dict[str, Any]:
    digests = hashing.digest_files(root, files)
    return {"content_sha256": hashing.manifest_digest(digests), "files": [d.to_dict() for d in digests]}


def scheduler_record(prepared: Prepared) -> dict[str, Any]:
    """The scheduler a run samples with, as far as it is known before loading: its class (the recipe's, else the
    base pipeline's), the base folder's saved config and the recipe's overrides. (A pipeline may still adjust
    deprecated settings when it is built; the run's trace records what the denoiser saw.)"""
    spec = prepared.recipe.scheduler
    index = json.loads((prepared.base.path / "model_index.json").read_text())
    saved = json.loads((prepared.base.path / "scheduler" / "scheduler_config.json").read_text())
    return {"class": spec.cls or index["scheduler"][1],
            "saved_config": {k: v for k, v in saved.items() if not k.startswith("_")}, "overrides": spec.config}


def _snapshot(recipe: Recipe, repo, settings: RunSettings, patterns: list[str] | None = None) -> resolver.Snapshot:
    try:
        return resolver.resolve_snapshot(repo.repo_id, repo.revision, repo.local, patterns, settings.allow_download)
    except resolver.WeightsNotFound as exc:
        # one missing repository rarely comes alone: name every file the recipe lacks, so one round of downloads
        # is enough (the plan reads the cache only; the single error stays when the cache holds every file)
        plan = resolver.download_plan(recipe)
        raise RecipeInputError(str(exc) if plan.complete else plan.report()) from exc


def prepare(recipe: Recipe, settings: RunSettings) -> Prepared:
    """Resolve and check everything the recipe needs; loads no weights."""
    base = _snapshot(recipe, recipe.base, settings)
    index = check_folder(base.path, recipe.pipeline)
    slot = next((s for s in DENOISER_SLOTS if isinstance(index.get(s), list) and index[s][0]), None)
    if slot is None:
        raise RecipeInputError(f"{base.path}: the pipeline has neither a unet nor a transformer")
    if recipe.student is None:
        return Prepared(recipe, base, slot)
    path, commit, fmt = _student_files(recipe, recipe.student, settings)
    if recipe.student.kind in DENOISER_SLOTS and recipe.student.kind != slot:
        raise RecipeInputError(f"recipe {recipe.name}: student weights replace a {recipe.student.kind} but "
                               f"{recipe.pipeline} has a {slot}")
    lora = WeightFiles(*_student_files(recipe, recipe.lora, settings)) if recipe.lora is not None else None
    return Prepared(recipe, base, slot, path, commit, fmt, lora)


def check_folder(path: Path, expected_class: str | None = None) -> dict[str, Any]:
    """A pipeline folder's model_index.json after every pre-load check: trusted component libraries only (no remote
    code), the expected pipeline class, and a complete header for every safetensors file of each component."""
    index = check_pipeline_folder(path, expected_class)
    for component in (c for c, v in index.items() if isinstance(v, list) and v[0]):
        if (path / component).is_dir():
            check_model_folder(path / component)
    return index


def load_pipeline(path: str | Path, **kwargs: Any):
    """`DiffusionPipeline.from_pretrained` on a checked local folder (safetensors only, no remote code), passing
    None for components saved as null (for example SD3 without T5), which diffusers otherwise refuses to load."""
    from diffusers import DiffusionPipeline  # heavy backend: only when a pipeline is really built

    path = Path(path)
    index = check_folder(path)
    nulls = {k: None for k, v in index.items() if isinstance(v, list) and v == [None, None]}
    return DiffusionPipeline.from_pretrained(str(path), use_safetensors=True, **{**nulls, **kwargs})


def _student_files(recipe: Recipe, student: StudentWeights, settings: RunSettings) \
        -> tuple[Path, str | None, str]:
    root = student.subfolder in (None, "", ".")  # e.g. lcm-sdxl: the repository is the UNet folder
    pattern = [student.filename] if student.filename else (None if root else [f"{student.subfolder}/*"])
    snap = _snapshot(recipe, student.repo, settings, pattern)
    if student.filename:
        path = snap.path / student.filename
        if not path.exists():
            need = resolver.RepoFiles(student.repo.repo_id, student.repo.revision, (student.filename,))
            raise RecipeInputError(f"{student.repo.label}: {student.filename} is missing ({student.kind} weights). "
                                   f"Provide it: `{resolver.download_command(need)}`")
        return path, snap.commit, check_weights_file(path, settings.allow_pickle)
    path = snap.path if root else snap.path / student.subfolder
    if not (path / "config.json").is_file():
        raise RecipeInputError(f"{student.repo.label}: {student.subfolder}/config.json is missing "
                               f"(a diffusers model folder is expected)")
    check_model_folder(path)
    return path, snap.commit, "diffusers-folder"


def load(prepared: Prepared, settings: RunSettings):
    """The pipeline, on its device, with the student applied and the recipe's scheduler."""
    import diffusers  # heavy backend: only when a pipeline is really built

    recipe = prepared.recipe
    dtype = DTYPES[settings.resolved_dtype(recipe.dtype)]
    extra: dict[str, Any] = {"dtype": dtype}
    if recipe.variant and any(prepared.base.path.rglob(f"*.{recipe.variant}.safetensors")):
        extra["variant"] = recipe.variant
    if recipe.student is not None and recipe.student.kind != "lora":
        extra[prepared.slot] = _load_student_net(prepared, dtype)
    pipe = load_pipeline(prepared.base.path, **extra)
    if type(pipe).__name__ != recipe.pipeline:  # model_index was checked; this guards against aliasing
        raise RecipeInputError(f"{prepared.base.path} loaded as {type(pipe).__name__}, not {recipe.pipeline}")
    if recipe.student is not None and recipe.student.kind == "lora":
        _apply_lora(pipe, recipe.student, prepared.student_path, "student")
    if prepared.lora is not None:  # on top of the student network loaded above
        _apply_lora(pipe, recipe.lora, prepared.lora.path, "lora")
    cls = getattr(diffusers, recipe.scheduler.cls) if recipe.scheduler.cls else type(pipe.scheduler)
    pipe.scheduler = cls.from_config(pipe.scheduler.config, **recipe.scheduler.config)
    _apply_settings(pipe, prepared.slot, settings)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _load_student_net(prepared: Prepared, dtype: torch.dtype):
    import diffusers  # heavy backend: only when a pipeline is really built

    student = prepared.recipe.student
    index = json.loads((prepared.base.path / "model_index.json").read_text())
    cls = getattr(diffusers, index[prepared.slot][1])
    if prepared.student_format == "diffusers-folder":
        variant = prepared.recipe.variant
        has_variant = variant is not None and any(prepared.student_path.glob(f"*.{variant}.safetensors"))
        return cls.from_pretrained(prepared.student_path, dtype=dtype, use_safetensors=True,
                                   variant=variant if has_variant else None)
    config = {**cls.load_config(prepared.base.path / prepared.slot), **student.config_overrides}
    net = cls.from_config(config)
    state = _read_state(prepared.student_path, prepared.student_format)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RecipeInputError(f"{prepared.student_path} does not fit {cls.__name__} of {prepared.base.repo_id}: "
                               f"{len(missing)} missing keys (e.g. {missing[:2]}), {len(unexpected)} unexpected "
                               f"(e.g. {unexpected[:2]})")
    return net.to(dtype)


def _read_state(path: Path, fmt: str) -> dict[str, torch.Tensor]:
    if fmt == "safetensors":
        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)  # allowed pickle: still no code execution
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _apply_lora(pipe, weights: StudentWeights, path: Path, adapter: str) -> None:
    pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=adapter)
    if weights.fuse:
        pipe.fuse_lora(lora_scale=weights.lora_scale)
        pipe.unload_lora_weights()  # the fused weights stay; the adapter layers go
    else:
        pipe.set_adapters([adapter], adapter_weights=[weights.lora_scale])


def _apply_settings(pipe, slot: str, settings: RunSettings) -> None:
    device = settings.resolved_device()
    if settings.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif settings.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    if settings.vae_tiling:
        pipe.vae.enable_tiling()
    if settings.vae_slicing:
        pipe.vae.enable_slicing()
    denoiser = getattr(pipe, slot)
    if settings.attention_backend:
        denoiser.set_attention_backend(settings.attention_backend)
    if settings.compile:
        denoiser.compile()  # nn.Module.compile: in place, so the pipeline and our call counter keep the module
