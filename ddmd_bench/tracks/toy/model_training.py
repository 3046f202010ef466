"""`ddmd-bench train teacher|classifier|clip|reward --track toy`: train one of the toy track's own models, export
it, record how it was made and what it measures, and (with `--ship`) copy it into the shipped weights.

The training loops live with the models: teacher_training.py (the teacher, resumable), classifier.py, clip.py and
reward.py (their shared optimiser loop in fitting.py). Distilling students from the teacher is the generic trainer
(ddmd_bench.training) fed with the toy teacher's bundle (bundle.py, distill.py).
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ddmd_bench.tracks.toy import classifier, clip, reward, shipped
from ddmd_bench.tracks.toy.shipping import check_can_ship
from ddmd_bench.tracks.toy.teacher_training import TeacherTrainConfig, train
from ddmd_bench.utils.checkpoint import export_safetensors

log = logging.getLogger(__name__)


def _command() -> str:
    return "ddmd-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def train_teacher(out_dir: Path, steps: int | None, ship: bool, force: bool = False) -> dict[str, Any]:
    """Train (or resume) the toy teacher; with `ship`, copy the EMA weights into the package (over the shipped
    teacher only with `force`, checked before training starts)."""
    if ship:
        check_can_ship("teacher", force)
    cfg = TeacherTrainConfig() if steps is None else TeacherTrainConfig(steps=steps)
    t0 = time.perf_counter()
    path = train(cfg, out_dir)
    records = [json.loads(ln) for ln in (out_dir / "log.jsonl").read_text().splitlines()]
    info = {"kind": "teacher", "model_config": cfg.model.to_dict(), "train_config": asdict(cfg),
            "command": _command(), "commit": shipped.git_commit(),
            "train_step_seconds_sum": round(sum(r["sec"] for r in records), 1),
            "final_loss_mean_last_100": sum(r["loss"] for r in records[-100:]) / min(100, len(records))}
    log.info("teacher trained in %.0fs (this invocation)", time.perf_counter() - t0)
    return _maybe_ship("teacher", path, info, ship, force)


@dataclass(frozen=True)
class ScoringModel:
    """How one of the toy scoring models is trained, measured and recorded.

    `fit` trains from a config; `measure` returns what the manifest records about the trained model; `model_config`
    is its architecture as recorded; `float16` ships half-precision weights (and measures the rounded ones)."""

    kind: str
    config: Callable[[], Any]
    fit: Callable[[Any], torch.nn.Module]
    measured: str
    measure: Callable[[torch.nn.Module], Any]
    model_config: Callable[[Any, torch.nn.Module], Any]
    float16: bool = False


def train_scoring_model(spec: ScoringModel, out_dir: Path, steps: int | None, ship: bool,
                        force: bool = False) -> dict[str, Any]:
    """Train, measure, export (and with `ship`, ship; over a shipped file only with `force`) one scoring model."""
    if ship:
        check_can_ship(spec.kind, force)
    cfg = spec.config() if steps is None else replace(spec.config(), steps=steps)
    t0 = time.perf_counter()
    model = spec.fit(cfg)
    seconds = time.perf_counter() - t0
    if spec.float16:  # measure the float16-rounded weights: those are what ships
        model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    value = spec.measure(model)
    log.info("%s: %.0fs, %s %s", spec.kind, seconds, spec.measured, value)
    path = out_dir / f"{spec.kind}.safetensors"
    state = {k: v.half() for k, v in model.state_dict().items()} if spec.float16 else model.state_dict()
    export_safetensors(state, path, {"train_config": json.dumps(asdict(cfg))})
    info = {"kind": spec.kind, "model_config": spec.model_config(cfg, model),
            **({"dtype": "float16"} if spec.float16 else {}), "train_config": asdict(cfg), "command": _command(),
            "commit": shipped.git_commit(), "train_seconds": round(seconds, 1), "threads": torch.get_num_threads(),
            spec.measured: value}
    return _maybe_ship(spec.kind, path, info, ship, force)


SCORING_MODELS = (
    ScoringModel("classifier", classifier.ClassifierTrainConfig, classifier.train_classifier,
                 "accuracy_on_5000_fresh_samples", classifier.accuracy, lambda cfg, _: asdict(cfg.model)),
    ScoringModel("clip", clip.ClipTrainConfig, clip.train_clip, "top1_retrieval_over_180_canonical_prompts",
                 lambda model: clip.retrieval_accuracy(model, clip.build_clip()[2]),
                 lambda cfg, _: f"ddmd_bench/tracks/toy/assets/{clip.MODEL_NAME}.json", float16=True),
    ScoringModel("reward", reward.RewardTrainConfig, reward.train_reward, "pairwise_accuracy_on_1024_fresh_pairs",
                 lambda model: {"held_in": reward.pairwise_accuracy(model),
                                "held_out": reward.pairwise_accuracy(model, held_out=True)},
                 lambda cfg, model: asdict(model.config)),
)


def _maybe_ship(name: str, path: Path, info: dict[str, Any], ship: bool, force: bool) -> dict[str, Any]:
    if ship:
        check_can_ship(name, force)
        target = shipped.ship(name, path, info)
        log.info("shipped %s -> %s", name, target)
    return {"path": str(path), "shipped": ship, **info}


# name -> (out_dir, steps or None for the default, ship, force) -> what the command prints
TRAINERS = {"teacher": train_teacher, **{spec.kind: partial(train_scoring_model, spec) for spec in SCORING_MODELS}}
