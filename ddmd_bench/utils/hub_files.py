"""Which files of a Hugging Face repository a diffusers pipeline loads, known without asking the hub.

A download plan must name files before anything is downloaded, and offline nothing can list a repository. The
component files follow from the class each component has in `model_index.json`: read from the cache when that file
is there, else taken from `KNOWN_INDEXES` (the base repositories most recipes use). A component whose class is not
listed here, or a repository with no known index, is described by glob patterns instead of file names.
"""

from __future__ import annotations

from collections.abc import Mapping

# model_index.json class name -> the files its folder holds that loading reads ("{v}": the weights variant, e.g.
# ".fp16", or ""). Tokenizers read every file listed; models read their config and one weights file.
_CLIP_TOKENIZER = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
_TRANSFORMERS_MODEL = ("config.json", "model{v}.safetensors")
_DIFFUSERS_MODEL = ("config.json", "diffusion_pytorch_model{v}.safetensors")
COMPONENT_FILES: dict[str, tuple[str, ...]] = {
    "CLIPTokenizer": _CLIP_TOKENIZER,
    "CLIPTextModel": _TRANSFORMERS_MODEL,
    "CLIPTextModelWithProjection": _TRANSFORMERS_MODEL,
    "StableDiffusionSafetyChecker": _TRANSFORMERS_MODEL,
    "CLIPImageProcessor": ("preprocessor_config.json",),
    "UNet2DConditionModel": _DIFFUSERS_MODEL,
    "AutoencoderKL": _DIFFUSERS_MODEL,
}
SCHEDULER_FILES = ("scheduler_config.json",)  # any class named *Scheduler

# Component classes of the base repositories the recipe catalogue uses most (their model_index.json); both publish
# an fp16 variant of every weights file.
_SD_COMMON = {"scheduler": "PNDMScheduler", "text_encoder": "CLIPTextModel", "tokenizer": "CLIPTokenizer",
              "unet": "UNet2DConditionModel", "vae": "AutoencoderKL"}
KNOWN_INDEXES: dict[str, dict[str, str]] = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": {
        **_SD_COMMON, "feature_extractor": "CLIPImageProcessor", "safety_checker": "StableDiffusionSafetyChecker"},
    "stabilityai/stable-diffusion-xl-base-1.0": {
        **_SD_COMMON, "scheduler": "EulerDiscreteScheduler", "text_encoder_2": "CLIPTextModelWithProjection",
        "tokenizer_2": "CLIPTokenizer"},
}

# Every file a diffusers pipeline folder can need, for a repository whose components are not known offline: the
# index, each component's configs, tokenizer files and weights (top-level single-file checkpoints are left out).
UNKNOWN_LAYOUT = ("model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/*.safetensors")


def components(index: Mapping[str, object]) -> dict[str, str]:
    """component folder -> class name, from a model_index.json mapping (entries saved as null are not loaded)."""
    return {name: value[1] for name, value in index.items()
            if isinstance(value, list) and len(value) == 2 and value[0] is not None and isinstance(value[1], str)}


def pipeline_files(classes: Mapping[str, str], variant: str | None = None,
                   config_only: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(files, patterns) a pipeline with these component classes loads. `config_only`: components replaced at load
    time (a student UNet), of which only the config is read."""
    v = f".{variant}" if variant else ""
    files, patterns = ["model_index.json"], []
    for name, cls in sorted(classes.items()):
        if cls.endswith("Scheduler"):
            names: tuple[str, ...] = SCHEDULER_FILES
        elif cls in COMPONENT_FILES:
            names = COMPONENT_FILES[cls]
        else:
            patterns.append(f"{name}/*")
            continue
        if name in config_only:
            names = tuple(n for n in names if n == "config.json")
        files += [f"{name}/{n.format(v=v)}" for n in names]
    return tuple(files), tuple(patterns)


def model_folder_files(subfolder: str | None, variant: str | None = None) -> tuple[str, ...]:
    """The config and weights of a diffusers model folder (`subfolder` None or '.': the repository root)."""
    prefix = "" if subfolder in (None, "", ".") else f"{subfolder.rstrip('/')}/"
    v = f".{variant}" if variant else ""
    return f"{prefix}config.json", f"{prefix}diffusion_pytorch_model{v}.safetensors"
