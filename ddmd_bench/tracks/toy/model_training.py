"""Train-and-ship entry points for the toy track's own models (called by `ddmd-bench train ... --track toy`)."""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from ddmd_bench.tracks.toy import shipped
from ddmd_bench.utils.checkpoint import export_safetensors

log = logging.getLogger(__name__)


def _command() -> str:
    return "ddmd-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def train_teacher(out_dir: Path, steps: int | None, ship: bool) -> dict[str, Any]:
    """Train (or resume) the toy teacher; with `ship`, copy the EMA weights into the package."""
    from ddmd_bench.tracks.toy.teacher_training import TeacherTrainConfig, train

    cfg = TeacherTrainConfig() if steps is None else TeacherTrainConfig(steps=steps)
    t0 = time.perf_counter()
    path = train(cfg, out_dir)
    records = [json.loads(ln) for ln in (out_dir / "log.jsonl").read_text().splitlines()]
    info = {"kind": "teacher", "model_config": cfg.model.to_dict(), "train_config": asdict(cfg),
            "command": _command(), "commit": shipped.git_commit(),
            "train_step_seconds_sum": round(sum(r["sec"] for r in records), 1),
            "final_loss_mean_last_100": sum(r["loss"] for r in records[-100:]) / min(100, len(records))}
    log.info("teacher trained in %.0fs (this invocation)", time.perf_counter() - t0)
    return _maybe_ship("teacher", path, info, ship)


def train_classifier(out_dir: Path, steps: int | None, ship: bool) -> dict[str, Any]:
    """Train the attribute classifier (prompt accuracy + toy FID features) and report its accuracy."""
    from ddmd_bench.tracks.toy.classifier import ClassifierTrainConfig, accuracy
    from ddmd_bench.tracks.toy.classifier import train_classifier as fit

    cfg = ClassifierTrainConfig() if steps is None else replace(ClassifierTrainConfig(), steps=steps)
    t0 = time.perf_counter()
    model = fit(cfg)
    seconds = time.perf_counter() - t0
    acc = accuracy(model)
    log.info("classifier: %.0fs, accuracy %s", seconds, acc)
    path = out_dir / "classifier.safetensors"
    export_safetensors(model.state_dict(), path, {"train_config": json.dumps(asdict(cfg))})
    info = {"kind": "classifier", "model_config": asdict(cfg.model), "train_config": asdict(cfg),
            "command": _command(), "commit": shipped.git_commit(), "train_seconds": round(seconds, 1),
            "threads": torch.get_num_threads(), "accuracy_on_5000_fresh_samples": acc}
    return _maybe_ship("classifier", path, info, ship)


def train_clip(out_dir: Path, steps: int | None, ship: bool) -> dict[str, Any]:
    """Train the toy CLIP contrastively; weights are shipped in float16 (the token table dominates the size)."""
    from ddmd_bench.tracks.toy.clip import ClipTrainConfig, build_clip, retrieval_accuracy
    from ddmd_bench.tracks.toy.clip import train_clip as fit

    cfg = ClipTrainConfig() if steps is None else replace(ClipTrainConfig(), steps=steps)
    t0 = time.perf_counter()
    model = fit(cfg)
    seconds = time.perf_counter() - t0
    # Evaluate the float16-rounded weights: those are what ships.
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    top1 = retrieval_accuracy(model, build_clip()[2])
    log.info("clip: %.0fs, top-1 retrieval over 180 prompts %.4f", seconds, top1)
    path = out_dir / "clip.safetensors"
    export_safetensors({k: v.half() for k, v in model.state_dict().items()}, path,
                       {"train_config": json.dumps(asdict(cfg))})
    info = {"kind": "clip", "model_config": "ddmd_bench/tracks/toy/assets/ddmd-toy-clip.json", "dtype": "float16",
            "train_config": asdict(cfg), "command": _command(), "commit": shipped.git_commit(),
            "train_seconds": round(seconds, 1), "threads": torch.get_num_threads(),
            "top1_retrieval_over_180_canonical_prompts": top1}
    return _maybe_ship("clip", path, info, ship)


def train_reward(out_dir: Path, steps: int | None, ship: bool) -> dict[str, Any]:
    """Train the toy reward model (ImageReward architecture) on synthetic preferences; report pairwise accuracy."""
    from ddmd_bench.tracks.toy.reward import RewardTrainConfig, pairwise_accuracy
    from ddmd_bench.tracks.toy.reward import train_reward as fit

    cfg = RewardTrainConfig() if steps is None else replace(RewardTrainConfig(), steps=steps)
    t0 = time.perf_counter()
    model = fit(cfg)
    seconds = time.perf_counter() - t0
    acc = {"held_in": pairwise_accuracy(model), "held_out": pairwise_accuracy(model, held_out=True)}
    log.info("reward: %.0fs, pairwise accuracy %s", seconds, acc)
    path = out_dir / "reward.safetensors"
    export_safetensors(model.state_dict(), path, {"train_config": json.dumps(asdict(cfg))})
    info = {"kind": "reward", "model_config": asdict(model.config), "train_config": asdict(cfg),
            "command": _command(), "commit": shipped.git_commit(), "train_seconds": round(seconds, 1),
            "threads": torch.get_num_threads(), "pairwise_accuracy_on_1024_fresh_pairs": acc}
    return _maybe_ship("reward", path, info, ship)


def _maybe_ship(name: str, path: Path, info: dict[str, Any], ship: bool) -> dict[str, Any]:
    if ship:
        target = shipped.ship(name, path, info)
        log.info("shipped %s -> %s", name, target)
    return {"path": str(path), "shipped": ship, **info}


TRAINERS = {"teacher": train_teacher, "classifier": train_classifier, "clip": train_clip, "reward": train_reward}
