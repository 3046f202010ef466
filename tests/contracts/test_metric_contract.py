"""The Metric contract, for every metric: the value does not depend on how the images are batched, the same images
give the same value, `spec()` is a stable, JSON-serialisable identity, and each metric declares its direction."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ddmd_bench.metrics.base import Metric, MetricValue
from tests.contracts.cases import METRICS, fresh_metric, inputs

CASES = list(METRICS)


def _score(case: str, chunks: list[int]) -> MetricValue:
    """The metric over the contract's images, fed in batches of the given sizes (in order)."""
    images, prompts = inputs(METRICS[case][2])
    assert sum(chunks) == len(prompts)
    metric = fresh_metric(case)
    start = 0
    for size in chunks:
        metric.update(images[start:start + size], prompts[start:start + size])
        start += size
    return metric.compute()


def _assert_same_value(a: MetricValue, b: MetricValue, rtol: float, atol: float) -> None:
    assert a.n == b.n
    np.testing.assert_allclose(a.value, b.value, rtol=rtol, atol=atol)
    for low_high in ((a.ci_low, b.ci_low), (a.ci_high, b.ci_high)):
        assert (low_high[0] is None) == (low_high[1] is None)
        if low_high[0] is not None:
            np.testing.assert_allclose(*low_high, rtol=rtol, atol=atol)
    assert (a.per_sample is None) == (b.per_sample is None)
    if a.per_sample is not None:
        np.testing.assert_allclose(np.array(a.per_sample, dtype=float), np.array(b.per_sample, dtype=float),
                                   rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", CASES)
def test_value_does_not_depend_on_the_batching(case):
    n = len(inputs()[1])
    together = _score(case, [n])
    assert 0 < together.n <= n and math.isfinite(together.value)  # prompt accuracy scores its subset only
    # features are computed per batch, and CPU kernels are chosen by batch shape: float32 round-off only
    _assert_same_value(together, _score(case, [1] * n), rtol=1e-5, atol=1e-5)
    _assert_same_value(together, _score(case, [5, 2, n - 7]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_same_images_give_the_same_value(case):
    n = len(inputs()[1])
    first = _score(case, [4, n - 4])
    _assert_same_value(first, _score(case, [4, n - 4]), rtol=0, atol=0)  # after a reset, bit-identical


@pytest.mark.parametrize("case", CASES)
def test_value_depends_on_the_images(case):
    images, prompts = inputs(METRICS[case][2])
    metric = fresh_metric(case)
    metric.update(images, prompts)
    real = metric.compute().value
    metric.reset()
    metric.update(images.flip(-1).flip(-2) // 4, prompts)  # darkened and turned over: other content
    assert metric.compute().value != real


def _as_stored(spec: dict) -> dict:
    """The spec as a result file holds it (tuples become lists); no default=, so every value must be plain JSON."""
    return json.loads(json.dumps(spec, sort_keys=True, allow_nan=False))


@pytest.mark.parametrize("case", CASES)
def test_identity_is_stable_and_json_serialisable(case):
    metric = fresh_metric(case)
    assert isinstance(metric, Metric)
    assert isinstance(metric.name, str) and metric.name and isinstance(metric.version, str) and metric.version
    before = _as_stored(metric.spec())
    assert before and all(isinstance(k, str) for k in before)
    images, prompts = inputs(METRICS[case][2])
    metric.update(images, prompts)
    metric.compute()
    assert _as_stored(metric.spec()) == before  # scoring changes nothing in the identity
    metric.reset()
    assert _as_stored(metric.spec()) == before


@pytest.mark.parametrize("case", CASES)
def test_direction_is_declared_and_registered(case):
    from ddmd_bench.metrics.catalog import direction

    metric = fresh_metric(case)
    assert isinstance(metric.higher_is_better, bool)
    assert metric.higher_is_better == direction(METRICS[case][0])  # the leaderboard ranks by the registry's


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("toy-")])
def test_direction_ranks_real_images_above_noise(case):
    """With trained backbones the declared direction is checkable: renders of the prompts beat uniform noise."""
    from tests.factories import random_images

    images, prompts = inputs()
    real = _score(case, [len(prompts)]).value
    metric = fresh_metric(case)
    metric.update(random_images(len(prompts), images.shape[-1], seed=3), prompts)
    noise = metric.compute().value
    assert (real > noise) if metric.higher_is_better else (real < noise), (real, noise)


def test_every_registered_metric_has_a_contract_case():
    from ddmd_bench.metrics.catalog import METRICS as REGISTERED

    assert set(REGISTERED.names()) <= {name for name, _, _ in METRICS.values()}
