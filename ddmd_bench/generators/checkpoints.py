"""Every form a researcher's checkpoint comes in, as a recipe the diffusers generator runs.

- a whole pipeline: a local folder, or a hub repository id (`ORG/NAME`, optionally `ORG/NAME@REVISION`), sampled with
  its own scheduler and defaults (`pipeline_recipe`);
- a student network (a UNet or transformer: one weights file, or a diffusers model folder), a LoRA file, or a LoRA on
  top of such a student network, on a base pipeline (a folder or a hub id), or on a published recipe, which then
  keeps its scheduler, timesteps and guidance and only swaps the denoiser weights (`CheckpointSpec`,
  `checkpoint_recipe`).

Hub repositories go through the one resolver (`ddmd_bench.resolver.resolve_snapshot`: the HF cache first,
HF_HUB_OFFLINE honoured), so the record names the commit they resolved to; local files are named by their sha256
(the record's `files`). A checkpoint's default name carries a short content hash of the student and of the LoRA file,
so other bytes of either are a new result, never a stale one.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ddmd_bench import hashing, resolver
from ddmd_bench.generators import pipelines
from ddmd_bench.generators.settings import RunSettings
from ddmd_bench.recipes import get_recipe
from ddmd_bench.recipes.checks import RecipeInputError
from ddmd_bench.recipes.generic import CONTENT_TAG_CHARS, generic_recipe
from ddmd_bench.recipes.recipe import Recipe, Repo, StudentWeights
from ddmd_bench.utils import hub_files

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # ORG/NAME, as the hub spells repository ids
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # diffusers' default LoRA file name, looked for in a folder


class CheckpointError(RecipeInputError):
    """A checkpoint's sources do not combine (a LoRA without a base, a student and a whole pipeline, ...)."""


@dataclass(frozen=True, slots=True)
class CheckpointSpec:
    """Denoiser weights on a base: `base` (a pipeline folder or hub id, at `revision`) or `method` (a published
    recipe), with `student` (a weights file or a diffusers model folder), `lora` (a LoRA file, applied at
    `lora_scale`), or both (the LoRA applied on top of the student network). Its text form (`target`) is what
    `checkpoint:TARGET` generator names carry."""

    base: str | None = None
    revision: str | None = None
    method: str | None = None
    student: str | None = None
    lora: str | None = None
    lora_scale: float = 1.0

    def __post_init__(self) -> None:
        if (self.base is None) == (self.method is None):
            raise CheckpointError("a student or LoRA needs one base: --base REPO|DIR (a pipeline) or --method NAME "
                                  "(a published recipe, whose scheduler, steps and guidance are kept)")
        if self.student is None and self.lora is None:
            raise CheckpointError("give --student FILE|DIR (a UNet or transformer), --lora FILE, or both (the LoRA "
                                  "on top of the student) on top of the base")
        if self.revision is not None and (self.base is None or Path(self.base).is_dir()):
            raise CheckpointError("--revision names a commit, branch or tag of a hub repository; the base here is "
                                  f"{'a recipe' if self.base is None else 'a local folder'}")
        if self.lora is None and self.lora_scale != 1.0:
            raise CheckpointError("--lora-scale scales a --lora; no LoRA was given")

    def target(self) -> str:
        """The text after 'checkpoint:' (canonical JSON of the fields that are set)."""
        return json.dumps({k: v for k, v in dataclasses.asdict(self).items() if v is not None and
                           not (k == "lora_scale" and v == 1.0)}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, target: str) -> CheckpointSpec:
        """Inverse of `target`."""
        try:
            fields = json.loads(target)
            return cls(**fields)
        except (json.JSONDecodeError, TypeError) as exc:
            raise CheckpointError(f"checkpoint:{target} is not a checkpoint description ({exc}); build it with "
                                  f"CheckpointSpec(...).target()") from exc


def split_revision(target: str) -> tuple[str, str | None]:
    """'ORG/NAME@REV' -> ('ORG/NAME', 'REV'); anything else (a folder, a bare id) is returned with no revision."""
    name, sep, revision = target.rpartition("@")
    if sep and HUB_ID.fullmatch(name) and revision and not Path(target).exists():
        return name, revision
    return target, None


def pipeline_recipe(target: str, settings: RunSettings, revision: str | None = None) -> Recipe:
    """The generic recipe of a whole pipeline: a local folder (named by its content hash), or a hub repository at a
    revision (named by the commit it resolves to), with its own scheduler and call defaults."""
    target, inline = split_revision(target)
    if inline is not None and revision is not None and inline != revision:
        raise CheckpointError(f"{target}: two revisions given ({inline} and --revision {revision})")
    revision = revision or inline
    path = Path(target)
    if path.is_dir():
        if revision is not None:
            raise CheckpointError(f"{target} is a local folder; --revision applies to hub repositories only")
        return generic_recipe(path)
    if not HUB_ID.fullmatch(target):
        raise CheckpointError(f"{target}: no such folder, and not a hub repository id (ORG/NAME)")
    snap = _hub_snapshot(target, revision, settings)
    recipe = generic_recipe(snap.path)
    return dataclasses.replace(
        recipe, name=f"pipeline:{target}@{snap.commit[:CONTENT_TAG_CHARS]}", base=Repo(target, revision),
        method="hub pipeline", sources=(f"https://huggingface.co/{target}",),
        notes=f"{recipe.notes}; {target} at commit {snap.commit}")


def _hub_snapshot(repo_id: str, revision: str | None, settings: RunSettings) -> resolver.Snapshot:
    try:
        # only what a pipeline folder loads: a download skips the repository's single-file checkpoints
        return resolver.resolve_snapshot(repo_id, revision, None, list(hub_files.UNKNOWN_LAYOUT),
                                         settings.allow_download)
    except resolver.WeightsNotFound as exc:
        raise resolver.WeightsNotFound(f"{exc} (there is no local folder named {repo_id} either)") from exc


def checkpoint_recipe(spec: CheckpointSpec, settings: RunSettings) -> Recipe:
    """The recipe that runs `spec`: the base's (a pipeline's own defaults, or the published recipe's scheduler,
    timesteps and guidance) with the student network, the LoRA, or the LoRA on the student network in place of any
    student the recipe had. The name carries a content tag of each file, so other bytes of either are another
    result."""
    base = get_recipe(spec.method) if spec.method else pipeline_recipe(spec.base, settings, spec.revision)
    student = _student_weights(spec, base, settings) if spec.student else None
    lora = _lora_weights(spec) if spec.lora else None
    parts = [*([("student", spec.student, student, "")] if student else []),
             *([("lora", spec.lora, lora, f"x{spec.lora_scale:g}")] if lora else [])]
    label = base.name.removeprefix("pipeline:")
    name = label + "".join(f"+{what}:{Path(source).stem}@{_content_tag(w)}{scale}" for what, source, w, scale in parts)
    what = " + ".join(what for what, *_ in parts)
    sources = tuple(source for _, source, *_ in parts)
    kept = f"the recipe {base.name}'s scheduler, timesteps and guidance" if spec.method \
        else "the base pipeline's own scheduler and call defaults"
    return dataclasses.replace(
        base, name=name, student=student or lora, lora=lora if student else None, needs_pickle=False,
        method=f"{base.method} + {what}" if spec.method else f"{what} on base", sources=(*base.sources, *sources),
        notes=f"{what} {' and '.join(sources)} on {base.base.label}, sampled with {kept}")


def _student_weights(spec: CheckpointSpec, base: Recipe, settings: RunSettings) -> StudentWeights:
    path = Path(spec.student)
    slot = _denoiser_slot(base, settings)
    # a recipe's own config changes (e.g. an extra conditioning input) describe its student network, which the user's
    # network replaces: kept only when the recipe's student is a whole network of the same kind
    keep = base.student is not None and base.student.kind == slot
    overrides = dict(base.student.config_overrides) if keep else {}
    if path.is_file():
        return StudentWeights(slot, Repo(str(path.parent), local=str(path.parent)), filename=path.name,
                              config_overrides=overrides)
    if path.is_dir():
        return StudentWeights(slot, Repo(str(path), local=str(path)), subfolder=".", config_overrides=overrides)
    raise CheckpointError(f"--student {path}: no such file or folder (a {slot} weights file, .safetensors, or a "
                          f"diffusers model folder with config.json)")


def _lora_weights(spec: CheckpointSpec) -> StudentWeights:
    path = Path(spec.lora)
    if path.is_dir():
        if not (path / LORA_WEIGHT_NAME).is_file():
            raise CheckpointError(f"--lora {path} is a folder without {LORA_WEIGHT_NAME}; give the LoRA file itself")
        path = path / LORA_WEIGHT_NAME
    if not path.is_file():
        raise CheckpointError(f"--lora {path}: no such file (a LoRA in diffusers' or kohya's .safetensors format)")
    return StudentWeights("lora", Repo(str(path.parent), local=str(path.parent)), filename=path.name,
                          lora_scale=spec.lora_scale)


def _denoiser_slot(recipe: Recipe, settings: RunSettings) -> str:
    """'unet' or 'transformer': the base pipeline's denoiser (read from its model_index.json through the resolver,
    which names every missing file when the base is not available)."""
    return pipelines.prepare(dataclasses.replace(recipe, student=None), settings).slot


def _content_tag(weights: StudentWeights) -> str:
    """A short hash of the student's bytes (its file, or every file of its folder)."""
    root = Path(weights.repo.local)
    files = [root / weights.filename] if weights.filename else hashing.folder_files(root)
    digests = hashing.digest_files(root, files)
    return hashing.manifest_digest(digests)[:CONTENT_TAG_CHARS]

