"""Export a student as a diffusers pipeline directory: the teacher's pipeline with the distilled network (LoRA
folded in) and the few-step scheduler it was trained for, so `DiffusionPipeline.from_pretrained(dir)` followed by
`pipe(prompt, num_inference_steps=k, guidance_scale=...)` samples exactly like the trainer's student chain."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import torch

from ddmd_bench.training import lora
from ddmd_bench.training.bundle import TeacherBundle

log = logging.getLogger(__name__)

_NET_SLOTS = ("unet", "transformer")


def export_pipeline(teacher: TeacherBundle, student: torch.nn.Module, steps: int, out_dir: str | Path,
                    info: dict | None = None) -> Path:
    """Write the student pipeline to `out_dir`; returns it. Only for teachers loaded from diffusers pipelines."""
    pipe = teacher.pipeline
    if pipe is None:
        raise ValueError(f"teacher {teacher.name!r} is not a diffusers pipeline; its student is exported as "
                         f"safetensors by the trainer (and shipped by the track that supplied the teacher)")
    net = copy.deepcopy(teacher.net)
    state = lora.merged_state(student) if any("lora_" in k for k in student.state_dict()) else student.state_dict()
    net.load_state_dict(state)
    slot = next(s for s in _NET_SLOTS if getattr(pipe, s, None) is teacher.net)
    scheduler = teacher.few_step_scheduler(steps)
    components = {**pipe.components, slot: net.eval(), "scheduler": scheduler}
    exported = type(pipe)(**components)
    out_dir = Path(out_dir)
    exported.save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "ddmd_bench.json").write_text(json.dumps(
        {"num_inference_steps": steps, "guidance_scale": 1.0, **(info or {})}, indent=1, default=str) + "\n")
    log.info("exported %d-step student pipeline to %s", steps, out_dir)
    return out_dir
