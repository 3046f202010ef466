"""A sampling recipe: everything needed to run one distillation method's checkpoint the way its authors do.

A recipe is data. It names the base pipeline (hub repo and revision), the student weights that replace or adapt its
denoiser (a full UNet / transformer file, a diffusers model folder, or a LoRA to load or fuse), the scheduler class
with its config overrides, the steps, the guidance, the resolution, the dtype and the negative-prompt policy, and
the sources each fact came from. Facts that could not be checked against the model's own card or code are listed
in `unverified`, so a user knows which numbers to double-check before trusting a comparison.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

StudentKind = Literal["unet", "transformer", "lora"]


@dataclass(frozen=True, slots=True)
class Repo:
    """A Hugging Face repository (or, with `local`, a folder on disk) at a revision."""

    repo_id: str
    revision: str | None = None  # a branch, tag or commit; resolved to a commit sha at run time
    local: str | None = None  # a local folder used instead of the hub (the generic recipe, our students)

    @property
    def label(self) -> str:
        return self.local or self.repo_id


@dataclass(frozen=True, slots=True)
class StudentWeights:
    """Distilled weights applied to the base pipeline's denoiser."""

    kind: StudentKind
    repo: Repo
    filename: str | None = None  # a single file in the repo (.safetensors, or a pickle the user must allow)
    subfolder: str | None = None  # or a diffusers model folder (config.json + weights)
    lora_scale: float = 1.0
    fuse: bool = True  # fuse the LoRA into the weights (the cards' usage) rather than keep adapters live
    config_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. SD1.5 DMD2's UNet config is the base's


@dataclass(frozen=True, slots=True)
class SchedulerSpec:
    """A diffusers scheduler class built `from_config` of the base scheduler with overrides (cls None: the base
    repository's own scheduler class)."""

    cls: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    timesteps: tuple[int, ...] | None = None  # passed to the pipeline call as `timesteps=` (DMD2's fixed chain)
    eta: float | None = None  # TCD's gamma / DDIM's eta, passed to the call


@dataclass(frozen=True, slots=True)
class Recipe:
    """One method's sampler. `forwards` is the number of denoiser calls per image it must make (CFG doubles the
    batch of each call, not the number of calls), checked by the tests and recorded by every run."""

    name: str
    method: str  # family shown in tables: "DMD2", "SDXL-Lightning", "teacher", ...
    pipeline: str  # diffusers pipeline class name
    base: Repo
    scheduler: SchedulerSpec
    steps: int
    guidance: float
    resolution: int
    forwards: int
    student: StudentWeights | None = None
    dtype: str = "float16"
    variant: str | None = None  # e.g. "fp16" weight files of the base repo
    negative_prompt: str | None = None  # None: the pipeline's own default (an empty unconditional prompt)
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()
    notes: str = ""
    needs_pickle: bool = False  # the published student weights exist only as a pickle
    guidance_embedded: bool = False  # guidance is an input of the network (LCM's w-embedding, FLUX.1-dev): no CFG
    lora: StudentWeights | None = None  # a LoRA fused on top of a `student` network (a user's LoRA on their student)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what `methods show` prints and result records store); `lora` only when there is one (a recipe
        without one is described by its other fields alone)."""
        out = dataclasses.asdict(self)
        if self.lora is None:
            del out["lora"]
        return out

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with command-line overrides applied; unknown or None values are ignored by the caller."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def uses_cfg(self) -> bool:
        """Whether this recipe runs classifier-free guidance (the pipelines enable it for guidance > 1, Z-Image
        for guidance > 0; FLUX.1-dev's guidance is an embedding, not CFG)."""
        threshold = CFG_THRESHOLD.get(self.pipeline, 1.0)
        return not self.guidance_embedded and threshold is not None and self.guidance > threshold


# Guidance above which each pipeline runs the unconditional branch (None: guidance is distilled into an embedding).
CFG_THRESHOLD: dict[str, float | None] = {
    "StableDiffusionPipeline": 1.0,
    "StableDiffusionXLPipeline": 1.0,
    "StableDiffusion3Pipeline": 1.0,
    "ZImagePipeline": 0.0,
    "FluxPipeline": None,
}
