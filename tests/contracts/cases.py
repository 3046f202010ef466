"""The generators and metrics every contract test runs over, each built offline and once per test session.

Generators: every shipped toy model (the teacher with classifier-free guidance, each student with its own sampler)
and diffusers pipelines through the same resolution `evaluate` uses (`pipeline:<folder>`), written by the tiny
factories: a UNet pipeline with CFG and an ancestral (per-step re-noising) sampler, and a FLUX pipeline (packed
latents, guidance-distilled). Metrics: the toy protocol's own metric objects (shipped weights), and the metric
classes the literature protocols use, around tiny random backbones (FID with clean-fid's and the patch preprocessing,
CLIP score in each preset's formula, ImageReward).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tests import factories

from tests.contracts import feature_set_cases, paper_metric_cases, teacher_fid_cases

# ------------------------------------------------------------------------------------------------------ generators


def shipped_toy_models() -> list[str]:
    """The shipped denoisers (teacher and students), read from the manifest (no weights are loaded)."""
    from ddmd_bench.tracks.toy import shipped

    return sorted(k.removesuffix(".safetensors") for k, v in shipped.read_manifest()["files"].items()
                  if v.get("kind") in ("teacher", "student"))


@functools.lru_cache(maxsize=1)
def hub() -> Path:
    """A local Hugging Face cache holding the repositories of the `method:` cases (set HF_HUB_CACHE to it)."""
    from tests.recipes.hub import build_hub

    root = Path(tempfile.mkdtemp(prefix="ddmd-contract-hub-"))
    build_hub(root, only=("dmd2-sdxl-4step",))
    return root


def _options():
    from ddmd_bench.generators.resolve import GeneratorOptions
    from ddmd_bench.generators.settings import RunSettings
    from ddmd_bench.recipes import Overrides

    # 16 px and 2 steps: the contract is about which inputs an image depends on, not about image quality
    return GeneratorOptions(overrides=Overrides(steps=2, resolution=16), settings=RunSettings(device="cpu"))


def _pipeline_folder(kind: str) -> str:
    import diffusers

    folder = Path(tempfile.mkdtemp(prefix=f"ddmd-contract-{kind}-")) / kind
    if kind == "sd15-ancestral":  # CFG (a doubled denoiser batch) and fresh noise drawn at every step
        factories.sd15(folder, diffusers.EulerAncestralDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="trailing",
            steps_offset=1))
    else:  # packed latents
        factories.flux(folder, diffusers.FlowMatchEulerDiscreteScheduler(shift=1.0), guidance_embeds=False)
    return str(folder)


def _resolve(name: str, options=None):
    from ddmd_bench.generators.resolve import resolve_generator

    return resolve_generator(name, options)


def _method(name: str):
    from dataclasses import replace

    from ddmd_bench.recipes import Overrides

    # a fixed 4-step chain (LCM re-noising each sample from its own generator): only the size is changed
    return _resolve(f"method:{name}", replace(_options(), overrides=Overrides(resolution=16)))


def _checkpoint_student_on_base():
    """A student UNet (a diffusers model folder) on a base pipeline folder, through `checkpoint:`."""
    from ddmd_bench.generators.checkpoints import CheckpointSpec

    base = Path(_pipeline_folder("sd15-ancestral"))
    return _resolve(f"checkpoint:{CheckpointSpec(base=str(base), student=str(base / 'unet')).target()}", _options())


def _toy_training_run():
    """A two-update toy Decoupled DMD run, through `run:`."""
    from ddmd_bench.tracks.toy.distill import run_preset

    run = Path(tempfile.mkdtemp(prefix="ddmd-contract-run-")) / "toy-run"
    run_preset("toy-ddmd-4step", run, {"steps": 2, "batch_size": 2, "warmup_steps": 1, "lr": 1e-2})
    return _resolve(f"run:{run}")


# case -> (generator kind it covers: a KINDS name, or the track of SHIPPED models; builder; needs the local hub)
GENERATORS: dict[str, tuple[str, Callable[[], Any], bool]] = {
    # the teacher at 4 steps (its default 50 add nothing to the contract), guidance 3 for the CFG batch
    **{f"toy-{m}": ("toy", functools.partial(_resolve, "teacher:steps=4,guidance=3" if m == "teacher" else m),
                    False) for m in shipped_toy_models()},
    "pipeline-sd15-ancestral-cfg": ("pipeline", lambda: _resolve(f"pipeline:{_pipeline_folder('sd15-ancestral')}",
                                                                 _options()), False),
    "pipeline-flux": ("pipeline", lambda: _resolve(f"pipeline:{_pipeline_folder('flux')}", _options()), False),
    "method-dmd2-sdxl-4step": ("method", functools.partial(_method, "dmd2-sdxl-4step"), True),
    "checkpoint-student-on-base": ("checkpoint", _checkpoint_student_on_base, False),
    "run-toy": ("run", _toy_training_run, False),
}


@functools.lru_cache(maxsize=None)
def generator(case: str):
    """The generator of contract case `case`, built on first use (with HF_HUB_CACHE set, for a hub case)."""
    return GENERATORS[case][1]()


# ------------------------------------------------------------------------------------------------------ metrics

N_PROMPTS = 12  # holds held-in and held-out toy prompts (each prompt accuracy needs both subsets)


@functools.lru_cache(maxsize=1)
def toy_protocol():
    """The toy protocol on its first N_PROMPTS prompts, and its context."""
    from ddmd_bench.protocols import get_protocol

    return get_protocol("toy", limit=N_PROMPTS)


@functools.lru_cache(maxsize=None)
def inputs(size: int = 16) -> tuple[torch.Tensor, list[str]]:
    """uint8 images of the toy world for the protocol's prompts (real renders, each with its own seed), at `size`."""
    from ddmd_bench.tracks.toy import world

    _, context = toy_protocol()
    prompts = list(context.prompt_set.prompts)
    images = world.render_for([world.parse_prompt(p) for p in prompts], [7 + i for i in range(len(prompts))]).images
    if size != images.shape[-1]:
        images = torch.nn.functional.interpolate(images.float(), size=(size, size), mode="nearest").to(torch.uint8)
    return images, prompts


def _toy_metrics() -> dict[str, Any]:
    protocol, context = toy_protocol()
    return context.build_metrics(protocol)


def _tiny_fid(patch: bool):
    from ddmd_bench.metrics.fid import FID, reference_stats
    from ddmd_bench.metrics.inception import CleanFIDFeatures, PatchFIDFeatures

    extractor = (PatchFIDFeatures if patch else CleanFIDFeatures)(network=factories.TinyExtractor(),
                                                                  network_id="tiny-extractor")
    extractor.dim = 16  # the stand-in's width, not Inception's 2048
    size = 304 if patch else 16
    reference = reference_stats(extractor, [factories.random_images(24, size, seed=5)], "random-noise")
    return FID(extractor, reference, bootstrap=20)


def _tiny_clip_score(preset: str):
    from ddmd_bench.metrics.clip_presets import PRESETS, preset_metric
    from ddmd_bench.tracks.toy.loaders import load_clip

    model, preprocess, tokenizer, meta = load_clip()
    return preset_metric(PRESETS.get(preset), model, preprocess, tokenizer, model_id="open_clip:ddmd-toy-clip",
                         weights_sha256=meta["sha256"])


def _tiny_image_reward():
    from ddmd_bench.metrics.image_reward import ImageReward, ImageRewardModel
    from ddmd_bench.tracks.toy.text import build_tokenizer

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    return ImageReward(ImageRewardModel(factories.tiny_image_reward_config(len(tokenizer))), tokenizer, "random")


@functools.lru_cache(maxsize=1)
def _toy_metric_objects() -> dict[str, Any]:
    return _toy_metrics()


def _from_toy(name: str) -> Callable[[], Any]:
    return lambda: _toy_metric_objects()[name]


TOY_METRICS = ("fid", "clip_score", "image_reward", "prompt_accuracy", "prompt_accuracy_heldout")

# case -> (registered metric name, builder, image size it is fed)
METRICS: dict[str, tuple[str, Callable[[], Any], int]] = {
    **{f"toy-{name}": (name, _from_toy(name), 16) for name in TOY_METRICS},
    "tiny-clean-fid": ("fid", functools.partial(_tiny_fid, False), 16),
    "tiny-patch-fid": ("patch_fid", functools.partial(_tiny_fid, True), 304),
    **{f"tiny-clip_score-{p}": ("clip_score", functools.partial(_tiny_clip_score, p), 16)
       for p in ("dmd2", "mlperf", "torchmetrics")},
    "tiny-image_reward": ("image_reward", _tiny_image_reward, 16),
    **feature_set_cases.METRICS,
    **teacher_fid_cases.METRICS,
    **paper_metric_cases.METRICS,
}


def fresh_metric(case: str):
    """The metric of contract case `case`, reset (metric objects are built once and reused)."""
    metric = _built(case)
    metric.reset()
    return metric


@functools.lru_cache(maxsize=None)
def _built(case: str):
    return METRICS[case][1]()
