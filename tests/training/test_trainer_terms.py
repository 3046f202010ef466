"""Trainer options that change the update: several fake updates per student update (TTUR) and the KL term."""

from __future__ import annotations

import pytest
import torch

from ddmd_bench.training import functional as F
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.losses import DMDLossConfig
from ddmd_bench.training.trainer import Trainer
from tests.factories import tiny_flow_bundle

CFG = DistillConfig(loss=DMDLossConfig(guidance=2.5), steps=1, batch_size=4, lora_rank=4, lr=1e-3, lr_fake=1e-3,
                    warmup_steps=1, save_every=100)


def _prompts(step: int, n: int) -> list[str]:
    return ["a red circle", "a blue square", "", "a big object"][:n]


def _one_step(cfg: DistillConfig, out) -> tuple[Trainer, object, dict]:
    trainer = Trainer(cfg, out, teacher=tiny_flow_bundle(), prompts=_prompts)
    nets = trainer.build()
    student, fake = trainer._distribute(nets)
    return trainer, nets, trainer.step(0, nets, student, fake)


def _adam_steps(opt: torch.optim.Optimizer) -> set[int]:
    return {int(s["step"]) for s in opt.state.values()}


@pytest.mark.parametrize("updates", [1, 3])
def test_fake_updates_sets_the_number_of_fake_steps_per_student_step(tmp_path, updates):
    trainer, nets, record = _one_step(CFG.with_overrides(fake_updates=updates), tmp_path)
    assert _adam_steps(nets.opt_student) == {1}
    assert _adam_steps(nets.opt_fake) == {updates}
    assert record["fake_loss"] > 0


def test_each_fake_update_draws_new_levels_and_noise(tmp_path, monkeypatch):
    import ddmd_bench.training.trainer as trainer_mod

    seen = []
    real = trainer_mod.fake_loss

    def spy(*args, **kwargs):
        loss = real(*args, **kwargs)
        seen.append(float(loss.detach()))
        return loss

    monkeypatch.setattr(trainer_mod, "fake_loss", spy)
    _, _, record = _one_step(CFG.with_overrides(fake_updates=2), tmp_path)
    assert len(seen) == 2 and seen[0] != seen[1]
    assert record["fake_loss"] == pytest.approx(sum(seen) / 2, rel=1e-6)  # the logged value is their mean


def test_kl_term_is_weighted_into_the_generator_loss_and_moves_the_student(tmp_path):
    weight = 0.5
    _, plain_nets, plain = _one_step(CFG, tmp_path / "plain")
    _, kl_nets, with_kl = _one_step(CFG.with_overrides(kl_weight=weight, kl_target=(0.0, 0.25)), tmp_path / "kl")
    assert "kl" not in plain and with_kl["kl"] > 0
    # the same student outputs at step 1, so the losses differ by exactly the weighted KL
    assert with_kl["x_mean"] == pytest.approx(plain["x_mean"], rel=1e-6)
    assert with_kl["loss"] - plain["loss"] == pytest.approx(weight * with_kl["kl"], rel=1e-4)
    changed = [not torch.equal(a, b) for a, b in zip(plain_nets.student.parameters(), kl_nets.student.parameters())]
    assert any(changed)  # its gradient reached the student


def test_kl_value_is_the_mean_variance_kl_of_the_student_outputs(tmp_path, monkeypatch):
    import ddmd_bench.training.trainer as trainer_mod

    outputs = []
    real = trainer_mod.Trainer._generate

    def spy(self, *args):
        x, sigma = real(self, *args)
        outputs.append(x.detach().clone())
        return x, sigma

    monkeypatch.setattr(trainer_mod.Trainer, "_generate", spy)
    _, _, record = _one_step(CFG.with_overrides(kl_weight=0.1, kl_target=(0.2, 0.5)), tmp_path)
    assert record["kl"] == pytest.approx(F.mean_variance_kl(outputs[0], 0.2, 0.5).item(), rel=1e-6)
