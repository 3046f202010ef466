"""A small training job for the resume test: `python -m tests.training.resume_job OUT` (slowed down so it can be
killed mid-run)."""

from __future__ import annotations

import sys
import time

import torch

from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.losses import DMDLossConfig

CFG = DistillConfig(loss=DMDLossConfig(guidance=2.5), steps=8, batch_size=4, lora_rank=4, lr=1e-3, lr_fake=1e-3,
                    warmup_steps=2, save_every=2, ema_decay=0.9)


def run(out: str, delay: float = 0.0) -> None:
    """Train CFG in `out` on the tiny flow teacher; `delay` seconds per step."""
    from ddmd_bench.training.trainer import Trainer
    from tests.factories import tiny_flow_bundle

    torch.set_num_threads(1)

    def prompts(step: int, n: int) -> list[str]:
        time.sleep(delay)
        return [f"prompt {step} {i}" if i % 3 else "" for i in range(n)]

    Trainer(CFG, out, teacher=tiny_flow_bundle(), prompts=prompts).run()


if __name__ == "__main__":
    run(sys.argv[1], float(sys.argv[2]))
