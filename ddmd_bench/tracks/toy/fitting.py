"""The optimiser loop of the toy track's scoring models (classifier, CLIP, reward model): a fresh batch's loss each
step, one optimiser step (and learning-rate step), progress with the loss, step time and ETA on stderr."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from ddmd_bench.utils.progress import Progress


def fit(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int, loss_at: Callable[[int], torch.Tensor],
        label: str, schedule: torch.optim.lr_scheduler.LRScheduler | None = None) -> torch.nn.Module:
    """Minimise `loss_at(step)` for `steps` steps; returns the model in eval mode."""
    with Progress(steps, f"train {label}", "step") as bar:
        for step in range(steps):
            t0 = time.perf_counter()
            loss = loss_at(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            bar.update(1, loss=loss.item(), step_s=time.perf_counter() - t0)
    return model.eval()
