"""The distillation loop: student + fake model against a frozen teacher, with EMA, TTUR, resume and DDP.

Resume is re-running the same command: every random draw of step k comes from a generator seeded by (seed, k), so
a resumed CPU run continues bit-for-bit where it stopped. Under `torchrun`, each rank takes its slice of the same
global batch (all draws are made at global size and sliced), so the loss trajectory matches one process.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ddmd_bench import prompts as prompt_sets
from ddmd_bench.protocol import diff_fields
from ddmd_bench.registry import unknown_name_message
from ddmd_bench.training import functional as F
from ddmd_bench.training import lora, sharding
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.bundle import PromptSource, TeacherBundle
from ddmd_bench.training.denoisers import load_teacher
from ddmd_bench.training.gan import GAN
from ddmd_bench.training.losses import DMDLoss, fake_loss
from ddmd_bench.training.runlog import RunLog
from ddmd_bench.utils.checkpoint import atomic_save, export_safetensors, load_state
from ddmd_bench.utils.distributed import World
from ddmd_bench.utils.ema import EMA
from ddmd_bench.utils.progress import Progress

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The run produced NaN/inf or exploded; the last good checkpoint is kept."""


def divergence_message(per_rank: list[list[float]], step: int, what: str, max_std: float,
                       last_good: str) -> str | None:
    """The stop message for every rank's [loss, output std, non-finite predictions] (None when all are fine).

    Built from gathered values only, so it is the same on every rank."""
    def where(ranks: list[int]) -> str:
        return f" on rank {', '.join(map(str, ranks))} of {len(per_rank)}" if len(per_rank) > 1 else ""

    bad = [r for r, (loss, _, nonfinite) in enumerate(per_rank) if nonfinite or not math.isfinite(loss)]
    if bad:
        first = per_rank[bad[0]]
        culprit, value = ("a teacher/fake prediction", "non-finite") if first[2] else (what, first[0])
        return (f"{culprit} became {value} at step {step + 1}{where(bad)}; stopped before updating. "
                f"Last good checkpoint: {last_good}. Lower the learning rate or guidance.")
    blown = [r for r, (_, std, _) in enumerate(per_rank) if std > max_std]
    if blown:
        worst = max(per_rank[r][1] for r in blown)
        return (f"student output std {worst:.2f} exceeds {max_std} at step {step + 1}{where(blown)} (variance "
                f"blow-up, the CA-collapse signature); last good checkpoint: {last_good}")
    return None


@dataclass
class Nets:
    """The trainable models and their optimisers."""

    student: torch.nn.Module
    fake: torch.nn.Module | None
    opt_student: torch.optim.Optimizer
    opt_fake: torch.optim.Optimizer | None
    ema: EMA
    gan: GAN | None = None  # DMD2's optional GAN head (its parameters are in opt_fake)


def file_prompts(path: str) -> PromptSource:
    """Prompts cycled from a prompt file (any format `ddmd-bench prompts` reads)."""
    items = prompt_sets.load(path).prompts

    def prompts(step: int, n: int) -> list[str]:
        return [items[(step * n + i) % len(items)] for i in range(n)]

    return prompts


def empty_prompts(step: int, n: int) -> list[str]:
    """An unconditional run's prompts: the empty one for every sample."""
    return [""] * n


class Trainer:
    """Builds everything from a `DistillConfig` and runs (or resumes) it in `out_dir`.

    `teacher` is the bundle supplied by the teacher's owner (a track); without one, `cfg.teacher` must be a local
    diffusers pipeline directory. `prompts` is a prompt source, a prompt file, or None for the bundle's own training
    captions. `progress` reports step, loss, step time and ETA on stderr (rank 0 only)."""

    def __init__(self, cfg: DistillConfig, out_dir: str | Path, teacher: TeacherBundle | None = None,
                 prompts: PromptSource | str | None = None, parallel: str = "ddp", progress: bool = True) -> None:
        if parallel not in sharding.PARALLEL_MODES:
            raise ValueError(unknown_name_message("parallel mode", parallel, list(sharding.PARALLEL_MODES)))
        self.cfg, self.out_dir, self.progress = cfg, Path(out_dir), progress
        self.teacher = teacher or load_teacher(cfg.teacher)
        self.cfg = cfg = self._resolve_shift(self._check_cfg_support(cfg))
        self.loss = DMDLoss(cfg.loss, self.teacher)
        self.prompts = self._prompt_source(prompts)
        self.world = World.current()
        self.sharded = parallel == "fsdp" and self.world.size > 1  # a run setting: same math as DDP
        self._pending_opt: tuple[dict, dict | None] | None = None
        if cfg.batch_size % self.world.size:
            raise ValueError(f"batch size {cfg.batch_size} does not split over {self.world.size} processes")
        self.sigmas = self.teacher.student_sigmas(cfg.student_steps)
        # The grid is post-shift (read from the teacher's scheduler); schedules bound their draws before the shift.
        self.sigmas_pre = F.inverse_time_shift(self.sigmas.double(), self.loss.shift).float()
        with torch.no_grad():
            self.uncond = self.teacher.encode([""])
        self.last_good = 0  # step of the last saved state (named in divergence messages)

    def _resolve_shift(self, cfg: DistillConfig) -> DistillConfig:
        """An unset `loss.shift` becomes the teacher's, so checkpoints and exports record the shift trained with."""
        return cfg if cfg.loss.shift is not None else cfg.with_overrides(**{"loss.shift": self.teacher.time_shift})

    def _prompt_source(self, prompts: PromptSource | str | None) -> PromptSource:
        """A given source as it is; a file or the bundle's captions, both replaced by "" in an unconditional run."""
        if callable(prompts):
            return prompts
        if self.cfg.unconditional:
            return empty_prompts
        if isinstance(prompts, str):
            return file_prompts(prompts)
        if self.teacher.prompts is None:
            raise ValueError(f"teacher {self.teacher.name} supplies no training prompts; give a prompt file "
                             f"(--prompts)")
        return self.teacher.prompts(self.cfg.seed)

    def _check_cfg_support(self, cfg: DistillConfig) -> DistillConfig:
        if self.teacher.supports_cfg or cfg.loss.guidance == 1.0:
            return cfg
        if cfg.loss.terms == "ca":
            raise ValueError(f"teacher {self.teacher.name} has no unconditional branch, so the CA term cannot be "
                             f"computed and a CA-only run has nothing to train; use terms 'dm'")
        log.warning("teacher %s has no unconditional branch: the CA term is disabled (guidance set to 1, "
                    "DM term only). Train a teacher with prompt dropout to use CFG augmentation.", self.teacher.name)
        return cfg.with_overrides(**{"loss.guidance": 1.0})

    # ----------------------------------------------------------------------------------------------- set-up
    def build(self) -> Nets:
        """Student and fake model initialised from the teacher (LoRA or full), their optimisers and the EMA."""
        cfg = self.cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            student = self._trainable_copy()
            fake = self._trainable_copy() if cfg.loss.needs_fake else None
            gan = self._gan(fake) if cfg.gan_weight else None
        extra = list(gan.head.parameters()) if gan is not None else []
        return Nets(student, fake, self._optimizer(student, cfg.lr),
                    self._optimizer(fake, cfg.lr_fake, extra) if fake is not None else None,
                    EMA(student, cfg.ema_decay), gan)

    def _optimizer(self, net: torch.nn.Module, lr: float, extra: list | None = None) -> torch.optim.Optimizer:
        params = [p for p in net.parameters() if p.requires_grad] + (extra or [])
        # foreach: one call over all LoRA matrices instead of the CPU default's Python loop over each (same
        # arithmetic, so the same weights); FSDP's sharded parameters keep torch's default
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), weight_decay=self.cfg.weight_decay,
                                 foreach=None if self.sharded else True)

    def _gan(self, fake: torch.nn.Module | None) -> GAN:
        real = self.teacher.real_data
        if fake is None or real is None:
            raise ValueError(f"the GAN term (gan_weight={self.cfg.gan_weight}) needs the fake model and real images; "
                             f"teacher {self.teacher.name} provides {'no real images' if real is None else 'no fake'} "
                             f"(a teacher bundle supplies real images; diffusers pipeline folders come without any)")
        if self.world.size > 1:
            raise ValueError("the GAN term runs in a single process for now (its head is not DDP/FSDP-wrapped)")
        return GAN(self.teacher, fake, real, self.cfg.loss.clip)

    def _distribute(self, nets: Nets) -> tuple[torch.nn.Module, torch.nn.Module | None]:
        """DDP wrappers, or (FSDP) the models sharded in place with optimizers rebuilt over the shards."""
        w = self.world
        if not self.sharded:
            return w.wrap(nets.student), w.wrap(nets.fake) if nets.fake is not None else None
        sharding.shard(nets.student)
        nets.opt_student = self._optimizer(nets.student, self.cfg.lr)
        if nets.fake is not None:
            sharding.shard(nets.fake)
            nets.opt_fake = self._optimizer(nets.fake, self.cfg.lr_fake)
        if self._pending_opt is not None:  # resumed: the saved full optimizer state, re-sharded
            sharding.load_optimizer_state(nets.student, nets.opt_student, self._pending_opt[0])
            if nets.fake is not None:
                sharding.load_optimizer_state(nets.fake, nets.opt_fake, self._pending_opt[1])
        return nets.student, nets.fake

    def _trainable_copy(self) -> torch.nn.Module:
        net = self.teacher.copy_net()
        return lora.add_lora(net, self.cfg.lora_rank) if self.cfg.lora_rank else net

    # --------------------------------------------------------------------------------------------- the loop
    def run(self) -> Path:
        """Train to `cfg.steps` (resuming if a state exists); returns the exported EMA student's path."""
        cfg, w = self.cfg, self.world
        self.out_dir.mkdir(parents=True, exist_ok=True)
        nets = self.nets = self.build()
        start = self._resume(nets)
        student, fake = self._distribute(nets)
        runlog = RunLog(self.out_dir, start) if w.is_main else None
        self.last_good = start
        bar = Progress(cfg.steps, "train", "step", initial=start, enabled=self.progress)
        for step in range(start, cfg.steps):
            record = self.step(step, nets, student, fake)
            bar.update(1, loss=record["loss"], step_s=record["sec"])
            if runlog:
                runlog.write(record)
            if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps:
                self._save(nets, step + 1)
                if runlog:
                    runlog.flush()
            if cfg.snapshot_every and (step + 1) % cfg.snapshot_every == 0 and w.is_main:
                self.export(nets.ema.shadow, self.out_dir / "snapshots" / f"step-{step + 1:06d}.safetensors")
        bar.close()
        if runlog:
            runlog.close()
        return self.export(nets.ema.shadow, self.out_dir / "student.safetensors") if w.is_main else self.out_dir

    def step(self, step: int, nets: Nets, student: torch.nn.Module, fake: torch.nn.Module | None) -> dict[str, Any]:
        """One student update and `fake_updates` fake updates."""
        cfg, w, t0 = self.cfg, self.world, time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        n, rows = cfg.batch_size, w.rows(cfg.batch_size)
        cond = self.teacher.encode(self.prompts(step, n)[rows])
        uncond = tuple(u.expand(rows.stop - rows.start, *u.shape[1:]) for u in self.uncond)
        lr_scale = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        x, sigma_pre = self._generate(nets.student, student, cond, gen, rows)
        loss, stats = self.loss(x, sigma_pre, cond, uncond, nets.fake, gen, rows)
        if cfg.kl_weight:
            kl = F.mean_variance_kl(x, *cfg.kl_target)
            stats["kl"] = kl.item()
            loss = loss + cfg.kl_weight * kl
        if nets.gan is not None:
            g = nets.gan.generator_loss(nets.fake, x, cond, gen, rows, n)
            stats["gan_g"] = g.item()
            loss = loss + cfg.gan_weight * g
        self._check(step, loss, x, "generator loss", stats["nonfinite"])
        grad_norm = self._update(nets.opt_student, student, loss, cfg.lr * lr_scale)
        nets.ema.update(nets.student)
        fake_losses = []
        for update in range(cfg.fake_updates if fake is not None else 0):
            fl = fake_loss(self.teacher, fake, x, cond, gen, cfg.loss.clip, rows, n, self.loss.shift)
            if nets.gan is not None:  # the head and the fake network learn to tell real from generated
                seeds = [cfg.seed * 1_000_000_007 + 900_000_000 + (step * cfg.fake_updates + update) * n + i
                         for i in range(n)]
                d = nets.gan.discriminator_loss(fake, x, cond, seeds, gen, rows, n)
                stats["gan_d"] = d.item()
                fl = fl + cfg.gan_d_weight * d
            self._check(step, fl, None, what="fake-model loss")
            self._update(nets.opt_fake, fake, fl, cfg.lr_fake * lr_scale)
            fake_losses.append(fl.detach())
        return {"step": step + 1, "loss": w.mean(loss.detach()), "grad_norm": grad_norm,
                "fake_loss": w.mean(torch.stack(fake_losses).mean()) if fake_losses else None,
                "x_mean": w.mean(x.detach().mean()), "x_std": w.mean(x.detach().std()),
                "lr": cfg.lr * lr_scale, "lr_fake": cfg.lr_fake * lr_scale,
                **{k: w.mean(torch.tensor(v)) for k, v in stats.items()}, "sec": time.perf_counter() - t0}

    def _generate(self, student_module, student, cond, gen, rows) -> tuple[torch.Tensor, torch.Tensor]:
        """Backward simulation (DMD2): run the student without grad to a random step of its grid, then once with
        grad. Each sample picks its own step; the chain is predict-x0 / re-noise with fresh noise."""
        n, k = self.cfg.batch_size, len(self.sigmas)
        index = torch.randint(k, (n,), generator=gen)
        shape = (n, *self.teacher.sample_shape)
        z = torch.randn(shape, generator=gen)[rows]
        renoise = [torch.randn(shape, generator=gen)[rows] for _ in range(k - 1)]
        idx = index[rows]
        p = self.teacher.parameterization
        with torch.no_grad():  # every rank runs the same number of passes (FSDP gathers weights collectively)
            for j in range(int(index.max())):
                sigma_j = self.sigmas[j].expand(z.shape[0])
                x0 = self.teacher.x0(student_module, z, sigma_j, cond)
                z_next = p.add_noise(x0, renoise[j], self.sigmas[j + 1].expand(z.shape[0]))
                z = torch.where((idx > j).view(-1, 1, 1, 1), z_next, z)
        x = self.teacher.x0(student, z, self.sigmas[idx], cond)
        return x, self.sigmas_pre[index]

    def _update(self, opt: torch.optim.Optimizer, net: torch.nn.Module, loss: torch.Tensor, lr: float) -> float:
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in opt.param_groups for p in group["params"]]  # the fake's include the GAN head
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()
        return float(sharding.full(norm))

    def _check(self, step: int, loss: torch.Tensor, x: torch.Tensor | None, what: str = "generator loss",
               nonfinite: float = 0.0) -> None:
        """Stop on a non-finite loss or prediction, or a variance blow-up, on any rank. The decision is collective
        (every rank gathers every rank's values), so all ranks raise the same error together: a rank stopping
        alone would leave the others waiting forever in the next gradient all-reduce."""
        std = float(x.detach().std()) if x is not None else 0.0
        per_rank = self.world.gather([float(loss.detach()), std, float(nonfinite)])
        message = divergence_message(per_rank, step, what, self.cfg.divergence_std if x is not None else math.inf,
                                     self._last_good_text())
        if message is not None:
            raise TrainingDiverged(message)

    def _last_good_text(self) -> str:
        return f"{self.out_dir / 'state.pt'} (step {self.last_good})" if self.last_good else "none yet"

    # ------------------------------------------------------------------------------------ state and export
    def _save(self, nets: Nets, step: int) -> None:
        state = self._gather_state(nets) if self.sharded else None  # collective: every rank takes part
        if self.world.is_main:
            state = state or self._local_state(nets)
            state |= {"ema": lora.trainable_state(nets.ema.shadow), "ema_updates": nets.ema.updates, "step": step,
                      "config": json.dumps(self.cfg.to_dict()),
                      "teacher_sha256": self.teacher.weights_sha256}
            if nets.gan is not None:
                state["gan_head"] = nets.gan.head.state_dict()
            atomic_save(state, self.out_dir / "state.pt")
        self.last_good = step
        self.world.barrier()

    def _local_state(self, nets: Nets) -> dict[str, Any]:
        state = {"student": lora.trainable_state(nets.student), "opt_student": nets.opt_student.state_dict()}
        if nets.fake is not None:
            state |= {"fake": lora.trainable_state(nets.fake), "opt_fake": nets.opt_fake.state_dict()}
        return state

    def _gather_state(self, nets: Nets) -> dict[str, Any]:
        """FSDP: whole tensors and name-keyed optimizer state, so any world size can resume it."""
        state = {"student": sharding.full_state(lora.trainable_state(nets.student)),
                 "opt_student": sharding.optimizer_state(nets.student, nets.opt_student), "optimizer_format": "full"}
        if nets.fake is not None:
            state |= {"fake": sharding.full_state(lora.trainable_state(nets.fake)),
                      "opt_fake": sharding.optimizer_state(nets.fake, nets.opt_fake)}
        return state

    def _resume(self, nets: Nets) -> int:
        state = load_state(self.out_dir / "state.pt")
        if state is None:
            return 0
        # Fields added to the config since the state was saved take their defaults (old runs stay resumable); an
        # unset shift means the teacher's, as for the running config.
        saved_cfg = self._resolve_shift(DistillConfig.from_dict(json.loads(state["config"])))
        saved = json.loads(json.dumps(saved_cfg.to_dict()))
        current = json.loads(json.dumps(self.cfg.to_dict()))
        if saved != current:
            changed = "; ".join(diff_fields(saved, current))
            raise ValueError(f"{self.out_dir} holds a run with a different configuration (saved != now: {changed}); "
                             f"use another --out or delete {self.out_dir / 'state.pt'}")
        # The config names the teacher, not its weights: a retrained teacher must not silently continue (or, for a
        # finished run, re-export) a student distilled from the previous one.
        saved_teacher, teacher = state.get("teacher_sha256"), self.teacher.weights_sha256
        if saved_teacher is not None and saved_teacher != teacher:
            raise ValueError(f"{self.out_dir} holds a run distilled from teacher {saved_teacher[:12]}, but the teacher "
                             f"is now {str(teacher)[:12]}; use another --out or delete {self.out_dir / 'state.pt'}")
        saved_sharded = state.get("optimizer_format") == "full"
        if saved_sharded != self.sharded:
            raise ValueError(f"{self.out_dir / 'state.pt'} was saved by a {'FSDP' if saved_sharded else 'non-FSDP'} "
                             f"run; resume it the same way (FSDP needs --parallel fsdp and several processes), or "
                             f"start a new --out")
        lora.load_trainable_state(nets.student, state["student"])
        if nets.gan is not None:
            nets.gan.head.load_state_dict(state["gan_head"])
        lora.load_trainable_state(nets.ema.shadow, state["ema"])
        nets.ema.updates = state["ema_updates"]
        if nets.fake is not None:
            lora.load_trainable_state(nets.fake, state["fake"])
        if self.sharded:  # optimizers are rebuilt over the shards first (`_distribute`)
            self._pending_opt = (state["opt_student"], state.get("opt_fake"))
        else:
            nets.opt_student.load_state_dict(state["opt_student"])
            if nets.fake is not None:
                nets.opt_fake.load_state_dict(state["opt_fake"])
        log.info("resuming %s at step %d", self.out_dir, state["step"])
        return int(state["step"])

    def export_last_good(self, path: Path) -> Path:
        """Export the EMA student of the last saved state (after a divergence stopped the run)."""
        nets = self.nets = self.build()
        step = self._resume(nets)
        if not step:
            raise TrainingDiverged(f"no checkpoint in {self.out_dir} to export")
        return self.export(nets.ema.shadow, path)

    def export(self, net: torch.nn.Module, path: Path) -> Path:
        """The student's trainable weights (LoRA or full) as safetensors, with the resolved config inside."""
        meta = {"distill_config": json.dumps(self.cfg.to_dict()), "teacher": self.teacher.name,
                "teacher_extras": json.dumps(self.teacher.record()),
                "student_sigmas": json.dumps([float(v) for v in self.sigmas]), "lora_rank": str(self.cfg.lora_rank)}
        export_safetensors(lora.trainable_state(net), path, meta)
        return path
