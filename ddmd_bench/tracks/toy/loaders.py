"""Build the shipped toy models from their manifest entries (configs) and sha256-verified weights."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import torch

from ddmd_bench.metrics.image_reward import ImageRewardConfig, ImageRewardModel
from ddmd_bench.tracks.toy import shipped, text
from ddmd_bench.tracks.toy.classifier import AttributeClassifier, ClassifierConfig
from ddmd_bench.tracks.toy.clip import build_clip
from ddmd_bench.tracks.toy.models import TeacherConfig, ToyDenoiser, build_teacher
from ddmd_bench.training import lora


def _load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise shipped.WeightsError(
            f"shipped toy model {name!r} does not match its config: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}; regenerate it with `{shipped.regenerate_command(name)}`")


def load_denoiser(name: str = "teacher", cached: bool = True) -> tuple[ToyDenoiser, object, dict]:
    """(denoiser, tokenizer, manifest entry) of a shipped toy generator (the teacher or a student); `cached=False`
    reads and builds everything again (what a cold start times)."""
    folder = shipped.weights_dir()
    return _load_denoiser(name, folder) if cached else _read_denoiser(name, folder, cached=False)


@lru_cache(maxsize=16)
def _load_denoiser(name: str, folder: Path) -> tuple[ToyDenoiser, object, dict]:
    return _read_denoiser(name, folder, cached=True)


def _read_denoiser(name: str, folder: Path, cached: bool) -> tuple[ToyDenoiser, object, dict]:
    state, meta = shipped.load_state_dict(name, folder)
    if meta.get("kind") == "student":
        return _load_student(name, state, meta, folder, cached)
    model, tokenizer = build_teacher(TeacherConfig.from_dict(meta["model_config"]))
    _load_strict(model, state, name)
    return model.eval().requires_grad_(False), tokenizer, meta


def _load_student(name: str, state: dict[str, torch.Tensor], meta: dict, folder: Path, cached: bool = True):
    """A distilled student: the teacher with the shipped LoRA (or full) weights folded in."""
    teacher, tokenizer, teacher_meta = (_load_denoiser("teacher", folder) if cached
                                        else _read_denoiser("teacher", folder, cached=False))
    if meta["teacher_sha256"] != teacher_meta["sha256"]:
        raise shipped.WeightsError(
            f"shipped student {name!r} was distilled from teacher {meta['teacher_sha256'][:12]}, but the shipped "
            f"teacher is {teacher_meta['sha256'][:12]}; retrain it with `{shipped.regenerate_command(name)}`")
    try:
        model = student_model(teacher, state, meta["lora_rank"])
    except KeyError as exc:
        raise shipped.WeightsError(f"shipped student {name!r}: {exc}; retrain it with "
                                   f"`{shipped.regenerate_command(name)}`") from exc
    return model, tokenizer, meta


def student_model(teacher: ToyDenoiser, state: dict[str, torch.Tensor], lora_rank: int) -> ToyDenoiser:
    """The teacher with a student's trained weights (LoRA folded in, or the full transformer) loaded strictly."""
    state = {k: v.float() for k, v in state.items()}
    net = copy.deepcopy(teacher.transformer)
    if lora_rank:
        lora.add_lora(net, lora_rank)
    lora.load_trainable_state(net, state)
    model = copy.deepcopy(teacher)
    model.transformer.load_state_dict(lora.merged_state(net) if lora_rank else net.state_dict())
    return model.eval().requires_grad_(False)


def load_classifier() -> tuple[AttributeClassifier, dict]:
    """(attribute classifier, manifest entry)."""
    return _load_classifier(shipped.weights_dir())


@lru_cache(maxsize=2)
def _load_classifier(folder: Path) -> tuple[AttributeClassifier, dict]:
    state, meta = shipped.load_state_dict("classifier", folder)
    model = AttributeClassifier(ClassifierConfig(**meta["model_config"]))
    _load_strict(model, state, "classifier")
    return model.eval().requires_grad_(False), meta


def load_clip() -> tuple[object, object, object, dict]:
    """(open_clip model, preprocess, tokenizer, manifest entry) of the toy CLIP."""
    return _load_clip(shipped.weights_dir())


@lru_cache(maxsize=2)
def _load_clip(folder: Path) -> tuple[object, object, object, dict]:
    state, meta = shipped.load_state_dict("clip", folder)
    model, preprocess, tokenizer = build_clip()
    _load_strict(model, {k: v.float() for k, v in state.items()}, "clip")
    return model.eval().requires_grad_(False), preprocess, tokenizer, meta


def load_reward() -> tuple[object, object, dict]:
    """(toy reward model, toy tokenizer, manifest entry)."""
    return _load_reward(shipped.weights_dir())


@lru_cache(maxsize=2)
def _load_reward(folder: Path) -> tuple[object, object, dict]:
    state, meta = shipped.load_state_dict("reward", folder)
    cfg = meta["model_config"]
    config = ImageRewardConfig(**{**cfg, "head": tuple(cfg["head"]), "head_dropout": tuple(cfg["head_dropout"])})
    model = ImageRewardModel(config)
    _load_strict(model, state, "reward")
    return model.eval().requires_grad_(False), text.build_tokenizer(), meta
