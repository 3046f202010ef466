"""EMA of trainable weights: the warm-up decay, frozen weights untouched, and a new model object picked up."""

import torch

from ddmd_bench.utils.ema import EMA


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    return model


def test_updates_follow_the_warm_up_decay_on_trainable_weights_only():
    model = _model(0)
    ema = EMA(model, decay=0.9)
    expected = [p.detach().clone() for p in model.parameters()]
    for step in range(1, 6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.5 * step)
        ema.update(model)
        beta = min(0.9, (1 + step) / (10 + step))
        for e, p in zip(expected, model.parameters()):
            if p.requires_grad:
                e.mul_(beta).add_(p.detach(), alpha=1 - beta)
    for e, avg in zip(expected, ema.shadow.parameters()):
        torch.testing.assert_close(avg, e, rtol=0, atol=1e-6)
    torch.testing.assert_close(ema.shadow[0].weight, _model(0)[0].weight, rtol=0, atol=0)  # frozen: never moved


def test_another_model_object_is_averaged_not_the_first_one():
    first, second = _model(0), _model(1)
    ema = EMA(first, decay=0.0)  # beta = 0: the average becomes the current weights
    ema.update(first)
    ema.update(second)
    torch.testing.assert_close(ema.shadow[1].weight, second[1].weight, rtol=0, atol=0)
