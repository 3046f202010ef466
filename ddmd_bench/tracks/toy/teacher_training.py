"""The toy teacher's training loop: rectified-flow velocity regression with prompt dropout (so CFG works), EMA,
resume. `ddmd-bench train teacher --track toy` runs it (model_training.py records and ships the result); students
are distilled from the teacher by the generic trainer (ddmd_bench.training), not here.

Resume is re-running the same command: the loop restarts from the last saved state, and because every batch,
caption and noise draw is a function of (seed, step), the resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ddmd_bench.tracks.toy import text, world
from ddmd_bench.tracks.toy.models import TeacherConfig, ToyDenoiser, build_teacher
from ddmd_bench.utils.checkpoint import atomic_save, export_safetensors, load_state
from ddmd_bench.utils.ema import EMA
from ddmd_bench.utils.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TeacherTrainConfig:
    """Hyperparameters of the toy teacher run (the shipped teacher used the defaults)."""

    model: TeacherConfig = field(default_factory=TeacherConfig)
    steps: int = 3600
    batch_size: int = 128
    lr: float = 1e-3
    warmup_steps: int = 200
    decay_start: int = 3000  # constant learning rate until here, then linear to zero at `steps` (a cool-down)
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    p_uncond: float = 0.15  # prompt dropout to "" trains the unconditional branch used by CFG
    # Noise levels sigma = sigmoid(N(loc, scale)) (SD3's logit-normal). SD3 shifts towards high noise for large
    # latents; 16 px pixel images sit at the other end, where a negative loc puts weight on the low noise levels
    # that decide edges and corners (shape).
    sigma_loc: float = 0.0
    sigma_scale: float = 1.0
    ema_decay: float = 0.998
    seed: int = 0
    save_every: int = 100


def _batch(cfg: TeacherTrainConfig, step: int, tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    seeds = [cfg.seed * 1_000_000_007 + step * cfg.batch_size + i for i in range(cfg.batch_size)]
    batch = world.make_batch(seeds)
    drop = np.random.default_rng([cfg.seed, step, 0xD409]).random(cfg.batch_size) < cfg.p_uncond
    captions = ["" if d else c for d, c in zip(drop, batch.captions)]
    x0 = batch.images.float() / 127.5 - 1.0
    return x0, text.tokenize(tokenizer, captions)


def flow_loss(model: ToyDenoiser, x0: torch.Tensor, ids: torch.Tensor, gen: torch.Generator,
              loc: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """Rectified flow: x_t = (1 - s) x0 + s eps, target v = eps - x0, s ~ logit-normal(loc, scale) (SD3 eq. 19)."""
    eps = torch.randn(x0.shape, generator=gen)
    sigma = torch.sigmoid(loc + scale * torch.randn(x0.shape[0], generator=gen))
    s = sigma.view(-1, 1, 1, 1)
    pred = model((1 - s) * x0 + s * eps, sigma, model.encode(ids))
    return (pred - (eps - x0)).square().mean()


def learning_rate(cfg: TeacherTrainConfig, step: int) -> float:
    """Linear warm-up, constant, then from `decay_start` (when it is below `steps`) a linear cool-down to zero at
    `steps`: a function of the step only, so a resumed run follows the same schedule."""
    lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps)
    if cfg.decay_start < cfg.steps and step >= cfg.decay_start:
        lr *= (cfg.steps - step) / (cfg.steps - cfg.decay_start)
    return lr


def train(cfg: TeacherTrainConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Run (or resume) training; returns the path of the exported EMA teacher. `progress` reports step, loss,
    step time and ETA on stderr."""
    out_dir = Path(out_dir)
    model, tokenizer = build_teacher(cfg.model, seed=cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = EMA(model, cfg.ema_decay)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = _resume(out_dir / "state.pt", model, opt, ema)
    log_file = _open_log(out_dir / "log.jsonl", start)
    bar = Progress(cfg.steps, "train teacher", "step", initial=start, enabled=progress)
    for step in range(start, cfg.steps):
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step)
        x0, ids = _batch(cfg, step, tokenizer)
        loss = flow_loss(model, x0, ids, torch.Generator().manual_seed(cfg.seed * 7919 + step), cfg.sigma_loc,
                         cfg.sigma_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"teacher loss became {loss.item()} at step {step}; last good state kept")
        opt.step()
        ema.update(model)
        record = {"step": step + 1, "loss": loss.item(), "grad_norm": grad_norm.item(),
                  "lr": opt.param_groups[0]["lr"], "sec": time.perf_counter() - t0}
        log_file.write(json.dumps(record) + "\n")
        bar.update(1, loss=record["loss"], step_s=record["sec"])
        if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps:
            log_file.flush()
            atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(),
                         "step": step + 1, "config": _config_dict(cfg)}, out_dir / "state.pt")
            log.info("step %d loss %.4f", step + 1, loss.item())
    bar.close()
    log_file.close()
    return export_teacher(ema.shadow, cfg, out_dir / "teacher.safetensors")


def _resume(path: Path, model, opt, ema) -> int:
    state = load_state(path)
    if state is None:
        return 0
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    ema.load_state_dict(state["ema"])
    log.info("resuming from %s at step %d", path, state["step"])
    return state["step"]


def _open_log(path: Path, start: int):
    # Drop records written after the last saved state: they will be re-done, and must not appear twice.
    kept = [ln for ln in path.read_text().splitlines() if json.loads(ln)["step"] <= start] if path.exists() else []
    path.write_text("".join(ln + "\n" for ln in kept))
    return path.open("a")


def _config_dict(cfg: TeacherTrainConfig) -> dict:
    return {**asdict(cfg), "model": cfg.model.to_dict()}


def export_teacher(model: ToyDenoiser, cfg: TeacherTrainConfig, path: Path) -> Path:
    """Save the (EMA) teacher as safetensors with its model config and training config in the metadata."""
    export_safetensors(model.state_dict(), path, {
        "model_config": json.dumps(cfg.model.to_dict()),
        "train_config": json.dumps(_config_dict(cfg)),
    })
    return path

