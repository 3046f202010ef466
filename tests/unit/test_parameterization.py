"""x0 conversions, noising and training targets against diffusers' own schedulers, plus hand-worked golden values."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler

from ddmd_bench.registry import UnknownNameError
from ddmd_bench.training.parameterization import (
    Epsilon,
    Flow,
    VPrediction,
    from_scheduler_config,
)

VP_CONFIG = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}
# k = round(sigma * 999): 0, 250 (249.75 rounds up, truncation would give 249), 500, 749, 999
SIGMAS = torch.tensor([0.0, 0.25, 0.5005, 0.75, 1.0])
STEPS = [0, 250, 500, 749, 999]


def _tensors(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 3, 3, generator=g, dtype=torch.float64), torch.randn(n, 2, 3, 3, generator=g,
                                                                                  dtype=torch.float64)


def _ddpm(prediction_type: str) -> DDPMScheduler:
    # clip_sample off: diffusers would otherwise clamp pred_original_sample to [-1, 1]
    return DDPMScheduler(**VP_CONFIG, prediction_type=prediction_type, clip_sample=False)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_vp_to_x0_equals_ddpm_step_pred_original_sample(prediction_type):
    param = from_scheduler_config({**VP_CONFIG, "prediction_type": prediction_type}, "DDPMScheduler")
    assert param.name == prediction_type
    scheduler = _ddpm(prediction_type)
    output, x_t = _tensors(len(STEPS), 0)
    ours = param.to_x0(output, x_t, SIGMAS.double())
    for i, k in enumerate(STEPS):
        ref = scheduler.step(output[i:i + 1], k, x_t[i:i + 1], generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(ours[i:i + 1], ref.pred_original_sample, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_vp_noising_timestep_and_target_equal_diffusers(prediction_type):
    param = from_scheduler_config({**VP_CONFIG, "prediction_type": prediction_type}, "DDIMScheduler")
    scheduler = _ddpm(prediction_type)
    x0, eps = _tensors(len(STEPS), 1)
    steps = torch.tensor(STEPS)
    assert param.timestep(SIGMAS).tolist() == STEPS
    torch.testing.assert_close(param.add_noise(x0, eps, SIGMAS), scheduler.add_noise(x0, eps, steps),
                               rtol=1e-6, atol=1e-6)
    expected = eps if prediction_type == "epsilon" else scheduler.get_velocity(x0, eps, steps)
    torch.testing.assert_close(param.target(x0, eps, SIGMAS), expected, rtol=1e-6, atol=1e-6)


def test_vp_round_trip_recovers_x0_from_its_own_target():
    for name in ("epsilon", "v_prediction"):
        param = from_scheduler_config({**VP_CONFIG, "prediction_type": name}, "EulerDiscreteScheduler")
        x0, eps = _tensors(len(STEPS), 2)
        x_t = param.add_noise(x0, eps, SIGMAS)
        # sigma = 1 is k = 999 where abar is tiny but not zero, so x0 is still recoverable
        torch.testing.assert_close(param.to_x0(param.target(x0, eps, SIGMAS), x_t, SIGMAS), x0,
                                   rtol=1e-6, atol=1e-6)


def test_flow_to_x0_equals_a_flow_match_euler_step_to_sigma_zero():
    # One Euler step from sigma to 0 lands exactly on the x0 prediction: x + (0 - sigma) v.
    param = from_scheduler_config({"num_train_timesteps": 1000, "shift": 1.0}, "FlowMatchEulerDiscreteScheduler")
    assert isinstance(param, Flow) and param.name == "flow"
    output, x_t = _tensors(4, 3)
    sigmas = [0.9, 0.6, 0.35, 0.1]
    ours = param.to_x0(output, x_t, torch.tensor(sigmas, dtype=torch.float64))
    for i, s in enumerate(sigmas):
        scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
        scheduler.set_timesteps(sigmas=[s])
        t = scheduler.timesteps[0]
        assert float(param.timestep(torch.tensor(s))) == pytest.approx(float(t), rel=1e-6)
        ref = scheduler.step(output[i:i + 1], t, x_t[i:i + 1]).prev_sample
        torch.testing.assert_close(ours[i:i + 1], ref, rtol=1e-6, atol=1e-6)


def test_flow_noising_and_target_equal_diffusers():
    param = Flow()
    x0, eps = _tensors(3, 4)
    sigmas = [0.8, 0.5, 0.2]
    for i, s in enumerate(sigmas):
        scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
        scheduler.set_timesteps(sigmas=[s])
        ref = scheduler.scale_noise(x0[i:i + 1], scheduler.timesteps[:1], eps[i:i + 1])
        torch.testing.assert_close(param.add_noise(x0[i:i + 1], eps[i:i + 1], torch.tensor([s])), ref,
                                   rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(param.target(x0, eps, torch.tensor(sigmas)), eps - x0)


# Golden values worked by hand: abar = (0.64, 0.36, 0.04, 0.01), so at k = 0 sqrt(abar) = 0.8, sqrt(1 - abar) = 0.6.
ABAR = torch.tensor([0.64, 0.36, 0.04, 0.01], dtype=torch.float64)


def _golden(value: float) -> torch.Tensor:
    return torch.full((1, 1, 1, 1), value, dtype=torch.float64)


def test_golden_x0_conversions():
    x_t, out, s0 = _golden(1.0), _golden(0.5), torch.tensor([0.0])
    # v: x0 = a x_t - b v = 0.8 - 0.3; epsilon: x0 = (x_t - b eps) / a = 0.7 / 0.8; flow: x0 = x_t - s v
    assert float(VPrediction(ABAR).to_x0(out, x_t, s0)) == pytest.approx(0.5, abs=1e-12)
    assert float(Epsilon(ABAR).to_x0(out, x_t, s0)) == pytest.approx(0.875, abs=1e-12)
    assert float(Flow().to_x0(out, x_t, torch.tensor([0.25]))) == pytest.approx(0.875, abs=1e-12)
    # k = round(s * 3): s = 0.5 -> 1.5 -> 2 (abar 0.04: a = 0.2, b = sqrt(0.96)); s = 0.6 -> 1.8 -> 2 too
    b = 0.96 ** 0.5
    for s in (0.5, 0.6):
        assert float(VPrediction(ABAR).to_x0(out, x_t, torch.tensor([s]))) == pytest.approx(0.2 - 0.5 * b, abs=1e-12)
    # sigma beyond [0, 1] clamps to the last / first index
    assert float(Epsilon(ABAR).to_x0(out, x_t, torch.tensor([2.0]))) == pytest.approx((1 - 0.5 * 0.99 ** 0.5) / 0.1)
    assert Epsilon(ABAR).timestep(torch.tensor([-1.0, 0.2, 0.34, 1.0, 5.0])).tolist() == [0, 1, 1, 3, 3]


def test_golden_noising_and_targets():
    x0, eps, s0 = _golden(2.0), _golden(-1.0), torch.tensor([0.0])
    assert float(Epsilon(ABAR).add_noise(x0, eps, s0)) == pytest.approx(0.8 * 2 - 0.6, abs=1e-12)
    assert float(VPrediction(ABAR).target(x0, eps, s0)) == pytest.approx(0.8 * -1 - 0.6 * 2, abs=1e-12)
    assert float(Epsilon(ABAR).target(x0, eps, s0)) == -1.0
    assert float(Flow().add_noise(x0, eps, torch.tensor([0.25]))) == pytest.approx(0.75 * 2 - 0.25, abs=1e-12)
    assert float(Flow().target(x0, eps, s0)) == -3.0
    assert float(Flow(num_train_timesteps=500).timestep(torch.tensor(0.5))) == 250.0


def test_vp_keeps_the_input_dtype():
    x_t, out = torch.ones(1, 1, 1, 1, dtype=torch.float32), torch.full((1, 1, 1, 1), 0.5)
    for cls in (Epsilon, VPrediction):
        p = cls(ABAR.float())
        assert p.to_x0(out, x_t, torch.tensor([0.0])).dtype == torch.float32
        assert p.add_noise(x_t, out, torch.tensor([0.0])).dtype == torch.float32
        assert p.target(x_t, out, torch.tensor([0.0])).dtype == torch.float32


def test_scheduler_config_selects_the_parameterisation():
    assert from_scheduler_config({"num_train_timesteps": 1000}, "FlowMatchEulerDiscreteScheduler").name == "flow"
    assert from_scheduler_config({"prediction_type": "flow_prediction"}, "UniPCMultistepScheduler").name == "flow"
    assert from_scheduler_config({"num_train_timesteps": 700}, "FlowMatchHeunDiscreteScheduler").num_train_timesteps == 700
    assert from_scheduler_config({"num_train_timesteps": 1000}, "FlowMatchX").num_train_timesteps == 1000
    assert isinstance(from_scheduler_config(dict(VP_CONFIG), "DDIMScheduler"), Epsilon)  # epsilon is the default
    with pytest.raises(UnknownNameError):
        from_scheduler_config({**VP_CONFIG, "prediction_type": "sample"}, "DDIMScheduler")


def test_alphas_cumprod_come_from_the_config_betas():
    p = from_scheduler_config({**VP_CONFIG, "beta_schedule": "linear", "beta_start": 0.001, "beta_end": 0.02,
                               "num_train_timesteps": 10, "unrelated": 1}, "DDPMScheduler")
    ref = DDPMScheduler(num_train_timesteps=10, beta_start=0.001, beta_end=0.02).alphas_cumprod.double()
    torch.testing.assert_close(p.alphas_cumprod, ref, rtol=0, atol=0)
    trained = [0.1, 0.2, 0.3]
    q = from_scheduler_config({"trained_betas": trained, "num_train_timesteps": 3}, "DDPMScheduler")
    torch.testing.assert_close(q.alphas_cumprod, torch.tensor([0.9, 0.72, 0.504], dtype=torch.float64))
