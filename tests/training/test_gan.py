"""DMD2's GAN head in the training loop on the toy teacher (real images rendered by the toy world)."""

from __future__ import annotations

import math

import pytest
import torch

from ddmd_bench.tracks.toy.bundle import real_data, toy_bundle
from ddmd_bench.tracks.toy.presets import get_preset
from ddmd_bench.training import runlog
from ddmd_bench.training.gan import GAN, middle_module
from ddmd_bench.training.trainer import Trainer

CFG = get_preset("toy-dmd-gan-4step").with_overrides(steps=3, batch_size=4, save_every=2, warmup_steps=1)


def test_gan_terms_are_trained_logged_and_resumed(tmp_path):
    Trainer(CFG, tmp_path / "run", teacher=toy_bundle()).run()
    records = runlog.read(tmp_path / "run")
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(math.isfinite(r["gan_g"]) and math.isfinite(r["gan_d"]) for r in records)
    # softplus(D(fake)) + softplus(-D(real)) at an untrained head is about 2 log 2
    assert records[0]["gan_d"] == pytest.approx(2 * math.log(2), abs=0.5)
    state = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    assert state["step"] == 3 and set(state["gan_head"]) == {"net.0.weight", "net.0.bias", "net.1.weight",
                                                             "net.1.bias", "net.3.weight", "net.3.bias"}
    # an interrupted run resumes with the head: stop at 2, re-run to 3, same log as uninterrupted
    Trainer(CFG.with_overrides(steps=2), tmp_path / "resumed", teacher=toy_bundle()).run()
    state = torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)
    import json

    state["config"] = json.dumps(CFG.to_dict())
    torch.save(state, tmp_path / "resumed" / "state.pt")
    Trainer(CFG, tmp_path / "resumed", teacher=toy_bundle()).run()
    resumed = runlog.read(tmp_path / "resumed")
    for a, b in zip(records, resumed):
        assert b["gan_g"] == pytest.approx(a["gan_g"], rel=1e-5) and b["loss"] == pytest.approx(a["loss"], rel=1e-5)


def test_generator_term_reaches_the_student_and_the_head_tells_real_from_fake():
    trainer = Trainer(CFG, "/nonexistent-unused", teacher=toy_bundle())
    nets = trainer.build()
    gan = nets.gan
    assert isinstance(gan, GAN) and middle_module(nets.fake) is nets.fake.transformer_blocks[len(
        nets.fake.transformer_blocks) // 2]
    real, captions = real_data(list(range(8)))
    assert real.shape == (8, 3, 16, 16) and real.min() >= -1 and real.max() <= 1 and len(captions) == 8
    # the generator's GAN loss has a gradient on the student (through the fake network, which it does not update)
    cond = trainer.teacher.encode(captions)
    x = trainer.teacher.x0(nets.student, torch.randn(8, 3, 16, 16), torch.ones(8), cond)
    gan.generator_loss(nets.fake, x, cond, torch.Generator().manual_seed(0), slice(0, 8), 8).backward()
    assert sum(float(p.grad.abs().sum()) for p in nets.student.parameters() if p.grad is not None) > 0
    # a few discriminator steps on one batch of noise images vs real renders drive its loss down
    opt = torch.optim.Adam(gan.head.parameters(), lr=1e-2)
    losses = []
    for step in range(15):
        opt.zero_grad()
        d = gan.discriminator_loss(nets.fake, torch.rand(8, 3, 16, 16) * 2 - 1, cond, list(range(8)),
                                   torch.Generator().manual_seed(step), slice(0, 8), 8)
        d.backward()
        opt.step()
        losses.append(d.item())
    assert losses[-1] < 0.5 * losses[0]


def test_gan_needs_real_images(tmp_path):
    from tests.factories import tiny_flow_bundle

    with pytest.raises(ValueError, match="needs the fake model and real images"):
        Trainer(CFG.with_overrides(teacher="tiny"), tmp_path, teacher=tiny_flow_bundle(),
                prompts=lambda step, n: ["a"] * n).build()
