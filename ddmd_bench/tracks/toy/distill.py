"""`ddmd-bench train <preset>` for the toy presets: the toy teacher's bundle handed to the generic trainer, and the
EMA student (float16) optionally shipped into the toy track's weights."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from ddmd_bench.tracks.toy import shipped
from ddmd_bench.tracks.toy.bundle import TEACHER, teacher_for
from ddmd_bench.tracks.toy.presets import get_preset
from ddmd_bench.tracks.toy.shipping import check_can_ship
from ddmd_bench.training.run import DistillRequest, apply_overrides, distill

log = logging.getLogger(__name__)


def student_name(preset: str) -> str:
    """Shipped name of a toy preset's student: 'toy-ddmd-4step' -> 'ddmd-4step'."""
    return preset.removeprefix("toy-")


def run_preset(preset: str, out_dir: Path, overrides: dict[str, Any], prompts: str | None = None,
               ship: bool = False, command: str = "", ship_last_good: bool = False,
               parallel: str = "ddp", force: bool = False) -> dict[str, Any]:
    """Train (or resume) `preset` in `out_dir`; with `ship`, copy the EMA student (float16) into the package, which
    replaces an already shipped student only with `force` (checked before training starts).

    If the run diverges it stops with `TrainingDiverged`; with `ship_last_good` the last good checkpoint's EMA
    student is exported and shipped instead, and the divergence is recorded in the manifest."""
    cfg = apply_overrides(get_preset(preset), overrides)
    if ship and cfg.teacher != TEACHER:
        raise ValueError("--ship adds a student to the toy track's shipped weights; only toy presets ship")
    if ship:
        check_can_ship(student_name(preset), force)
    result = distill(DistillRequest(preset, cfg, out_dir, teacher_for(cfg), prompts, command, ship_last_good,
                                    parallel))
    info = result.info
    if ship:
        info |= _ship(student_name(preset), result.path, info, force)
    return {"path": str(result.path), "shipped": ship, **info}


def _ship(name: str, path: Path, info: dict[str, Any], force: bool) -> dict[str, Any]:
    check_can_ship(name, force)  # again: another run may have shipped it while this one trained
    half = path.with_name(path.stem + ".fp16.safetensors")
    save_file({k: v.half() for k, v in load_file(str(path)).items()}, str(half))
    target = shipped.ship(name, half, {**info, "dtype": "float16", "commit": shipped.git_commit()})
    log.info("shipped %s -> %s", name, target)
    return {"shipped_to": str(target)}
