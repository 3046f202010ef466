"""The flow time shift comes from the teacher: an SD3 teacher at shift 3 re-noises in pre-shift space."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from ddmd_bench.training import functional as F
from ddmd_bench.training.bundle import TeacherBundle
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.denoisers import sd3_bundle
from ddmd_bench.training.losses import DMDLoss, DMDLossConfig, fake_loss
from ddmd_bench.training.trainer import Trainer
from tests.factories import tiny_flow_bundle, tiny_sd3_pipeline

CLIP = (0.02, 0.98)


@pytest.fixture(scope="module")
def sd3_teacher(tmp_path_factory):
    return sd3_bundle(tiny_sd3_pipeline(tmp_path_factory.mktemp("tok")))


def _spy_sigmas(bundle: TeacherBundle) -> tuple[TeacherBundle, list[torch.Tensor]]:
    """A copy of the bundle that records the noise levels every teacher/fake call receives (and the record)."""
    seen: list[torch.Tensor] = []

    def spy(net, x, sigma, cond):
        seen.append(sigma.detach().double().clone())
        return bundle.call(net, x, sigma, cond)

    return replace(bundle, call=spy), seen


def test_sd3_teacher_shift_reaches_the_loss_and_the_student_grid(sd3_teacher):
    assert sd3_teacher.time_shift == 3.0
    cfg = DistillConfig(loss=DMDLossConfig(schedule="decoupled-constrained", guidance=2.0), steps=1, batch_size=4)
    assert cfg.loss.shift is None  # unset: taken from the teacher
    trainer = Trainer(cfg, "/nonexistent-unused", teacher=sd3_teacher, prompts=lambda step, n: ["a cat"] * n)
    assert trainer.loss.shift == 3.0 and trainer.cfg.loss.shift == 3.0  # recorded in checkpoints and exports
    # diffusers' grid at shift 3 (shift_terminal 1/4): post-shift levels the student is sampled at
    torch.testing.assert_close(trainer.sigmas, torch.tensor([1.0, 0.8923, 0.6989, 0.25]), atol=1e-4, rtol=0)
    # pre-shift bounds: inverse of s -> 3s / (1 + 2s); 0.25 -> 0.25 / (3 - 0.5) = 0.1
    pre = trainer.sigmas_pre.double()
    assert pre[0].item() == 1.0 and pre[-1].item() == pytest.approx(0.1, abs=1e-7)
    torch.testing.assert_close(pre[1:3], torch.tensor([0.8923 / 1.2154, 0.6989 / 1.6022], dtype=torch.float64),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(F.time_shift(pre, 3.0), trainer.sigmas.double(), atol=1e-6, rtol=0)


def test_constrained_ca_levels_are_drawn_before_the_teachers_shift(sd3_teacher):
    spied, seen = _spy_sigmas(sd3_teacher)
    loss_fn = DMDLoss(DMDLossConfig(schedule="decoupled-constrained", guidance=2.0, terms="ca"), spied)
    assert loss_fn.shift == 3.0
    post = torch.tensor([1.0, 0.75, 0.5, 0.25])
    pre = F.inverse_time_shift(post.double(), 3.0).float()  # 1, 0.5, 0.25, 0.1
    x = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    cond, uncond = sd3_teacher.encode(["a red cat"] * 4), sd3_teacher.encode([""] * 4)
    loss_fn(x, pre, cond, uncond, None, torch.Generator().manual_seed(11))
    s_ca = seen[0][:4]  # one batched pass: conditional CA rows first
    # The documented draw: u ~ U(0,1) for the CA row, uniform in [clip_lo, min(pre, clip_hi)], then shifted.
    u = torch.rand((2, 4), generator=torch.Generator().manual_seed(11), dtype=torch.float64)[0]
    bound = pre.double().clamp(max=CLIP[1])
    expected = F.time_shift(CLIP[0] + (bound - CLIP[0]) * u, 3.0)
    torch.testing.assert_close(s_ca, expected.float().double(), atol=1e-7, rtol=0)
    # Each level stays cleaner than the student's own (post-shift) step, and the shift is really applied:
    # the unshifted draw would be lower everywhere.
    assert (s_ca <= post.double() + 1e-7).all()
    assert (s_ca > (CLIP[0] + (bound - CLIP[0]) * u) + 1e-3).all()


def test_bound_maps_back_to_the_students_level_golden():
    # sigma_pre = 0.5 at shift 3 is the student level 0.75; draws time_shift(0.5 u, 3) = 1.5 u / (1 + u) have
    # maximum 0.75 and mean 1.5 (1 - ln 2) = 0.4603 (unshifted draws below 0.75 would average 0.375).
    from ddmd_bench.training.schedules import RENOISING_SCHEDULES

    pre = torch.full((20000,), 0.5)
    levels = RENOISING_SCHEDULES.get("decoupled-constrained").sample(pre, torch.Generator().manual_seed(0), 3.0, (0.0, 1.0))
    for s in (levels.sigma_ca, levels.sigma_dm):
        assert s.max().item() <= 0.75 + 1e-6 and s.max().item() > 0.749
        assert s.double().mean().item() == pytest.approx(1.5 * (1 - math.log(2)), abs=0.006)


def test_explicit_shift_overrides_the_teacher_with_a_warning(sd3_teacher, caplog):
    assert DMDLoss(DMDLossConfig(shift=1.0), sd3_teacher).shift == 1.0
    assert "differs from teacher" in caplog.text
    with pytest.raises(ValueError, match="loss.shift must be a positive number"):
        DMDLossConfig(shift=0.0).validate()
    # a teacher without a shifted scheduler keeps the identity
    assert DMDLoss(DMDLossConfig(), tiny_flow_bundle()).shift == 1.0


def test_fake_model_levels_follow_the_shift():
    teacher, seen = _spy_sigmas(tiny_flow_bundle())
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    fake_loss(teacher, teacher.net, x, teacher.encode(["a"] * 4), torch.Generator().manual_seed(5), CLIP,
              shift=3.0)
    u = torch.rand(4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = F.time_shift(CLIP[0] + (CLIP[1] - CLIP[0]) * u, 3.0)
    torch.testing.assert_close(seen[0], expected.float().double(), atol=1e-7, rtol=0)
