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


def _kl_1d(m: float, v: float, mu: float, var: float) -> float:
    return 0.5 * (math.log(var / v) + (v + (m - mu) ** 2) / var - 1.0)


def test_mean_variance_kl_takes_each_images_own_moments_then_averages():
    # image 1: pixels (0, 2) over two channels -> mean 1, variance 1; image 2: (2, 6, 2, 6) -> mean 4, variance 4;
    # the batch as a whole (or one channel alone) would have other moments, so per-image moments are what is checked
    x = torch.tensor([[[[0.0, 0.0]], [[2.0, 2.0]]], [[[2.0, 6.0]], [[2.0, 6.0]]]])
    expected = (_kl_1d(1.0, 1.0, 0.5, 2.0) + _kl_1d(4.0, 4.0, 0.5, 2.0)) / 2
    assert float(F.mean_variance_kl(x, 0.5, 2.0)) == pytest.approx(expected, rel=1e-6)
    flat = torch.tensor([[[[1.0, 1.0]]], [[[1.0, 1.0]]]])  # zero variance: clamped, finite
    assert math.isfinite(float(F.mean_variance_kl(flat, 0.0, 1.0)))


def test_per_sample_mean_abs_is_per_image_and_broadcastable():
    x = torch.tensor([[[[-1.0, 3.0]]], [[[10.0, -30.0]]]])
    out = F.per_sample_mean_abs(x)
    assert out.shape == (2, 1, 1, 1)
    assert out.flatten().tolist() == [2.0, 20.0]


def test_cosine_is_per_sample_and_zero_for_a_zero_vector():
    a = torch.tensor([[1.0, 0.0], [3.0, 4.0], [0.0, 0.0], [0.01, 0.0]])
    b = torch.tensor([[1.0, 1.0], [6.0, 8.0], [1.0, 2.0], [0.0, 0.02]])
    got = F.cosine(a, b)
    assert got.shape == (4,)
    assert got.tolist() == pytest.approx([1 / math.sqrt(2), 1.0, 0.0, 0.0], abs=1e-7)
    # scale-free per row, also for tiny norms: scaling one row leaves every value unchanged
    small = torch.tensor([[0.001, 0.001], [3.0, 4.0], [1.0, 2.0], [1.0, 1.0]])
    assert F.cosine(small, b).tolist() == pytest.approx(F.cosine(small * 1000, b).tolist())
    assert float(F.cosine(small, b)[0]) == pytest.approx(1.0)


def test_gan_discriminator_loss_weighs_fake_and_real_means_apart():
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    fake, real = torch.tensor([0.0, 1.0, 2.0, 3.0]), torch.tensor([-1.0, 2.0])  # different sizes: means, not sums
    expected = sum(softplus(v) for v in (0.0, 1.0, 2.0, 3.0)) / 4 + (softplus(1.0) + softplus(-2.0)) / 2
    assert float(F.gan_discriminator_loss(fake, real)) == pytest.approx(expected)


def test_per_sample_mean_abs_averages_over_every_channel():
    x = torch.tensor([[[[1.0]], [[-3.0]]], [[[0.0]], [[4.0]]]])  # N=2, C=2: one value per image, not per channel
    assert F.per_sample_mean_abs(x).flatten().tolist() == [2.0, 2.0]


def test_mean_variance_kl_with_a_small_pixel_variance():
    x = torch.tensor([0.5, 1.5]).view(1, 1, 1, 2)  # mean 1, variance 0.25: below 1, so no clamp may touch it
    assert float(F.mean_variance_kl(x, 0.0, 1.0)) == pytest.approx(_kl_1d(1.0, 0.25, 0.0, 1.0))
