"""Hand-worked golden values for the DMD-family math in training/functional.py (one value per formula)."""

from __future__ import annotations

import math

import pytest
import torch

from ddmd_bench.training import functional as F


def test_gan_losses_are_the_non_saturating_softplus_pair():
    fake, real = torch.tensor([0.0, 2.0]), torch.tensor([1.0, -1.0])
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert float(F.gan_generator_loss(fake)) == pytest.approx((softplus(0.0) + softplus(-2.0)) / 2)
    expected = (softplus(0.0) + softplus(2.0)) / 2 + (softplus(-1.0) + softplus(1.0)) / 2
    assert float(F.gan_discriminator_loss(fake, real)) == pytest.approx(expected)


def test_mean_variance_kl_golden():
    # one image with pixels (0, 2): mean 1, variance 1; KL(N(1, 1) || N(0, 4)) = 0.5 (log 4 + (1 + 1) / 4 - 1)
    x = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    assert float(F.mean_variance_kl(x, 0.0, 4.0)) == pytest.approx(0.5 * (math.log(4) + 0.5 - 1))
    assert float(F.mean_variance_kl(x, 1.0, 1.0)) == pytest.approx(0.0, abs=1e-12)


def test_time_shift_and_its_inverse():
    s = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
    shifted = F.time_shift(s, 3.0)
    assert shifted.tolist() == pytest.approx([0.0, 0.5, 0.75, 1.0])
    assert F.inverse_time_shift(shifted, 3.0).tolist() == pytest.approx(s.tolist())
    assert F.time_shift(s, 1.0).tolist() == s.tolist()


def test_directions_normaliser_and_cosine_golden():
    a, b = torch.full((1, 1, 1, 2), 3.0), torch.full((1, 1, 1, 2), 1.0)
    assert F.cfg_x0(a, b, 2.5).flatten().tolist() == [6.0, 6.0]
    assert F.ca_direction(a, b, 2.5).flatten().tolist() == [3.0, 3.0]
    assert F.dm_direction(a, b).flatten().tolist() == [2.0, 2.0]
    x = torch.tensor([1.0, -3.0]).view(1, 1, 1, 2)
    assert F.normalise(torch.ones(1, 1, 1, 2), x, torch.zeros_like(x)).flatten().tolist() == [0.5, 0.5]
    assert F.normalise(torch.ones(1, 1, 1, 2), x, torch.zeros_like(x), eps=2.0).flatten().tolist() == [0.25, 0.25]
    assert F.normalise(torch.zeros(1, 1, 1, 2), x, x).flatten().tolist() == [0.0, 0.0]  # 0/0 -> 0
    assert F.cosine(torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])).tolist() == \
        pytest.approx([2 ** -0.5, 0.0])
