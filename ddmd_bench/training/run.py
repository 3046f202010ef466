"""`ddmd-bench train <preset>`: resolve a preset with overrides, train or resume, optionally ship a toy student."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from ddmd_bench.training import runlog
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.presets import get_preset

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


def resolve(preset: str, overrides: dict[str, Any]) -> DistillConfig:
    """The preset with overrides applied; unknown fields are named."""
    cfg = get_preset(preset)
    fields = set(cfg.to_dict()) | {f"loss.{k}" for k in cfg.to_dict()["loss"]}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        from ddmd_bench.registry import unknown_name_message

        raise ValueError(unknown_name_message("config field", unknown[0], sorted(fields)))
    cfg = cfg.with_overrides(**overrides)
    cfg.loss.validate()
    return cfg


def student_name(preset: str) -> str:
    """Shipped name of a toy preset's student: 'toy-ddmd-4step' -> 'ddmd-4step'."""
    return preset.removeprefix("toy-")


def run_preset(preset: str, out_dir: Path, overrides: dict[str, Any], prompts: str | None = None,
               ship: bool = False, command: str = "", ship_last_good: bool = False,
               parallel: str = "ddp") -> dict[str, Any]:
    """Train (or resume) `preset` in `out_dir`; with `ship`, copy the EMA student (float16) into the package.

    If the run diverges it stops with `TrainingDiverged`; with `ship_last_good` the last good checkpoint's EMA
    student is exported and shipped instead, and the divergence is recorded in the manifest."""
    from ddmd_bench.training.trainer import Trainer, TrainingDiverged

    cfg = resolve(preset, overrides)
    if ship and cfg.teacher != "toy":
        raise ValueError("--ship adds a student to the toy track's shipped weights; only toy presets ship")
    t0 = time.perf_counter()
    trainer = Trainer(cfg, out_dir, prompts=prompts, parallel=parallel)
    diverged = None
    try:
        path = trainer.run()
    except TrainingDiverged as exc:
        if not ship_last_good:
            raise
        diverged = str(exc)
        log.warning("%s; exporting the last good checkpoint", exc)
        path = trainer.export_last_good(out_dir / "student-last-good.safetensors")
    records = runlog.read(out_dir)
    info = {"kind": "student", "preset": preset, "distill_config": trainer.cfg.to_dict(), "lora_rank": cfg.lora_rank,
            "student_sigmas": [round(float(v), 6) for v in trainer.sigmas], "teacher_sha256": trainer.teacher.extras.get("teacher_sha256"),
            "model_config": trainer.teacher.extras.get("model_config"), "command": command,
            "train_step_seconds_sum": round(sum(r["sec"] for r in records), 1), "threads": torch.get_num_threads(),
            "final": {k: v for k, v in (records[-1] if records else {}).items() if k != "sec"},
            "diverged": diverged}
    log.info("%s: %d steps, %.0f s this invocation", preset, cfg.steps, time.perf_counter() - t0)
    if ship:
        info |= _ship(student_name(preset), path, info)
    return {"path": str(path), "shipped": ship, **info}


def _ship(name: str, path: Path, info: dict[str, Any]) -> dict[str, Any]:
    from safetensors.torch import load_file, save_file

    from ddmd_bench.tracks.toy import shipped

    half = path.with_name(path.stem + ".fp16.safetensors")
    save_file({k: v.half() for k, v in load_file(str(path)).items()}, str(half))
    target = shipped.ship(name, half, {**info, "dtype": "float16", "commit": shipped.git_commit()})
    log.info("shipped %s -> %s", name, target)
    return {"shipped_to": str(target)}
