"""The optimiser loop of the toy track's scoring models (classifier, CLIP, reward model): a fresh batch's loss each
step, one optimiser step (and learning-rate step), progress logged every 100 steps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)


def fit(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int, loss_at: Callable[[int], torch.Tensor],
        label: str, schedule: torch.optim.lr_scheduler.LRScheduler | None = None) -> torch.nn.Module:
    """Minimise `loss_at(step)` for `steps` steps; returns the model in eval mode."""
    t0 = time.perf_counter()
    for step in range(steps):
        loss = loss_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if schedule is not None:
            schedule.step()
        if (step + 1) % 100 == 0:
            log.info("%s step %d loss %.4f (%.0fs)", label, step + 1, loss.item(), time.perf_counter() - t0)
    return model.eval()
