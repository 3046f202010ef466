"""One distillation run as a command runs it: a config with KEY=VALUE overrides, trained or resumed, optionally
exported from its last good checkpoint after a divergence, summarised for the command's output (and a manifest)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ddmd_bench.registry import unknown_name_message
from ddmd_bench.training import runlog
from ddmd_bench.training.bundle import TeacherBundle
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.trainer import Trainer, TrainingDiverged

log = logging.getLogger(__name__)


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """['loss.guidance=2', 'lora_rank=0'] -> {'loss.guidance': 2, 'lora_rank': 0} (values read as JSON if they can)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not KEY=VALUE (for example loss.guidance=2)")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
        if isinstance(out[key], list):
            out[key] = tuple(out[key])
    return out


def apply_overrides(cfg: DistillConfig, overrides: dict[str, Any]) -> DistillConfig:
    """`cfg` with overrides applied and its loss validated; unknown fields are named."""
    fields = set(cfg.to_dict()) | {f"loss.{k}" for k in cfg.to_dict()["loss"]}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(unknown_name_message("config field", unknown[0], sorted(fields)))
    cfg = cfg.with_overrides(**overrides)
    cfg.loss.validate()
    return cfg


@dataclass(frozen=True)
class DistillRequest:
    """What to train and how: `preset` names the config in the summary; `teacher` None loads `cfg.teacher` as a
    diffusers pipeline folder; `export_last_good` exports the last good checkpoint's EMA student if the run diverges
    (the divergence is recorded) instead of stopping."""

    preset: str
    cfg: DistillConfig
    out_dir: Path
    teacher: TeacherBundle | None = None
    prompts: str | None = None
    command: str = ""
    export_last_good: bool = False
    parallel: str = "ddp"


@dataclass(frozen=True)
class DistillResult:
    """The exported EMA student and the run's summary (config, teacher, timings, final log record, divergence)."""

    path: Path
    info: dict[str, Any]


def distill(request: DistillRequest) -> DistillResult:
    """Train (or resume) one run in `request.out_dir`."""
    cfg, out_dir = request.cfg, request.out_dir
    t0 = time.perf_counter()
    trainer = Trainer(cfg, out_dir, teacher=request.teacher, prompts=request.prompts, parallel=request.parallel)
    diverged = None
    try:
        path = trainer.run()
    except TrainingDiverged as exc:
        if not request.export_last_good:
            raise
        diverged = str(exc)
        log.warning("%s; exporting the last good checkpoint", exc)
        path = trainer.export_last_good(out_dir / "student-last-good.safetensors")
    records = runlog.read(out_dir)
    info = {"kind": "student", "preset": request.preset, "distill_config": trainer.cfg.to_dict(),
            "lora_rank": cfg.lora_rank, "student_sigmas": [round(float(v), 6) for v in trainer.sigmas],
            "teacher_sha256": trainer.teacher.weights_sha256, "model_config": trainer.teacher.model_config,
            "command": request.command, "train_step_seconds_sum": round(sum(r["sec"] for r in records), 1),
            "threads": torch.get_num_threads(),
            "final": {k: v for k, v in (records[-1] if records else {}).items() if k != "sec"},
            "diverged": diverged}
    log.info("%s: %d steps, %.0f s this invocation", request.preset, cfg.steps, time.perf_counter() - t0)
    return DistillResult(path, info)
