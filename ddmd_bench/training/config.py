"""The resolved configuration of a distillation run (frozen; stored in every checkpoint and export)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ddmd_bench.training.losses import DMDLossConfig


@dataclass(frozen=True, slots=True)
class DistillConfig:
    """A distillation run: teacher, student, loss, optimisation. Presets are instances of this (presets.py)."""

    teacher: str = "toy"  # a teacher its track supplies as a bundle ('toy'), or a local diffusers pipeline folder
    loss: DMDLossConfig = field(default_factory=DMDLossConfig)
    student_steps: int = 4  # the grid comes from the teacher's few-step scheduler (toy: 1, .75, .5, .25 = DMD2's)
    unconditional: bool = False  # train and sample with the empty prompt (no CFG, hence no CA term)
    lora_rank: int = 8  # 0 = full fine-tuning of student and fake model
    batch_size: int = 32  # global batch, split across DDP ranks
    steps: int = 400  # student updates
    lr: float = 1e-3
    lr_fake: float = 1e-3
    fake_updates: int = 1  # fake-model updates per student update (TTUR)
    warmup_steps: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 10.0
    ema_decay: float = 0.99
    kl_weight: float = 0.0  # mean-variance KL regulariser (Decoupled DMD eq. 7); 0 = off
    kl_target: tuple[float, float] = (0.0, 0.25)  # (mu, variance) of the per-image pixel statistics
    gan_weight: float = 0.0  # DMD2's GAN generator term softplus(-D(G)); 1e-3 SD1.5, 5e-3 SDXL; 0 = off (needs real images)
    gan_d_weight: float = 1e-2  # its discriminator loss weight in the fake update (DMD2)
    divergence_std: float = 8.0  # stop when the student's output std exceeds this (CA-collapse guard)
    seed: int = 0
    save_every: int = 50
    snapshot_every: int = 0  # also keep EMA student snapshots for learning curves; 0 = off

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        """Inverse of `to_dict` (tuples restored)."""
        loss = DMDLossConfig(**{**data["loss"], "clip": tuple(data["loss"]["clip"])})
        rest = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "loss"}
        return cls(loss=loss, **rest)

    def with_overrides(self, **changes: Any) -> DistillConfig:
        """A copy with top-level fields or `loss.<field>` changed."""
        loss_changes = {k[5:]: v for k, v in changes.items() if k.startswith("loss.")}
        top = {k: v for k, v in changes.items() if not k.startswith("loss.")}
        return replace(self, loss=replace(self.loss, **loss_changes), **top)
