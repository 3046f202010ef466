"""Metric states on torchmetrics: streaming moments, indexed per-sample rows, shard merging in any order, and the
cross-process reduction torchmetrics performs under torch.distributed (two gloo processes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ddmd_bench.metrics.base import PerSampleScores
from ddmd_bench.metrics.fid import FID, ReferenceStats
from ddmd_bench.metrics.prompt_accuracy import PromptAccuracy
from ddmd_bench.metrics.states import FeatureMoments, IndexedRows
from tests.factories import chunk_states, merge_states
from tests.gloo import on_two_processes

N, DIM = 23, 6


def test_moments_do_not_depend_on_batching_or_order():
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(300, 8)))
    one, many = FeatureMoments(8), FeatureMoments(8)
    one.update(x)
    for chunk in reversed(torch.tensor_split(x, 7)):
        many.update(chunk)
    (n1, m1, s1), (n2, m2, s2) = one.compute(), many.compute()
    assert n1 == n2 == 300
    np.testing.assert_allclose(m1, x.numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(s1, np.cov(x.numpy(), rowvar=False), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m1, m2, rtol=1e-12)
    np.testing.assert_allclose(s1, s2, rtol=1e-10, atol=1e-12)


def test_moments_reject_wrong_shape_and_reset():
    m = FeatureMoments(8)
    with pytest.raises(ValueError, match=r"\[B, 8\]"):
        m.update(torch.zeros(3, 9))
    m.update(torch.randn(4, 8))
    m.reset()
    assert float(m.n) == 0 and float(m.total.abs().sum()) == 0


def test_indexed_rows_sort_by_index_and_refuse_duplicates():
    rows = IndexedRows(2)
    rows.update(torch.tensor([3, 4]), torch.tensor([[3.0, 30], [4, 40]]))
    rows.update(torch.tensor([0, 1, 2]), torch.tensor([[0.0, 0], [1, 10], [2, 20]]))
    index, values = rows.compute()
    assert index.tolist() == [0, 1, 2, 3, 4] and values[:, 1].tolist() == [0, 10, 20, 30, 40]
    rows.update(torch.tensor([2]), torch.tensor([[9.0, 9]]))
    with pytest.raises(ValueError, match="sample 2 was scored more than once"):
        rows.compute()


class _Linear:
    """A random linear feature extractor on uint8 images (stands in for Inception)."""

    id, dim, weights_sha256, preprocessing = "test-linear", DIM, "0" * 64, "none"

    def __init__(self) -> None:
        self.w = torch.randn(3 * 4 * 4, DIM, generator=torch.Generator().manual_seed(0))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1).float() / 255 @ self.w


class _Scores(PerSampleScores):
    """Per-sample score = mean brightness (a deterministic stand-in for CLIP score)."""

    name, version, higher_is_better = "brightness", "1", True

    def __init__(self) -> None:
        self.reset()

    def update(self, images, prompts) -> None:
        self._record_batch(images.flatten(1).double().mean(1))

    def compute(self):
        return self._gathered()


def _data():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (N, 3, 4, 4), dtype=torch.uint8, generator=g)
    prompts = [f"p{i} {'red' if i % 2 else 'blue'}" for i in range(N)]
    return images, prompts


def _metrics():
    ref = torch.randn(50, DIM, generator=torch.Generator().manual_seed(3)).double().numpy()
    stats = ReferenceStats(ref.mean(0), np.cov(ref, rowvar=False), 50, _Linear.id, "random")
    colour = PromptAccuracy("acc", lambda im: {"colour": ["red" if float(x.float().mean()) > 127 else "blue"
                                                          for x in im]},
                            lambda p: {"colour": p.split()[1]}, lambda a: a["colour"] == "red",
                            {"subset": "red prompts"}, ("colour",))
    return {"fid": FID(_Linear(), stats, bootstrap=20), "scores": _Scores(), "acc": colour}


def _values(metrics) -> dict:
    out = {}
    for name, m in metrics.items():
        v = m.compute()
        out[name] = v if isinstance(v, list) else (v.value, v.ci_low, v.ci_high, v.per_sample, v.n)
    return out


CHUNKS = [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]


def _merged(order) -> dict:
    return _values(merge_states(_metrics(), chunk_states(_metrics, *_data(), CHUNKS), order))


def test_one_pass_equals_shards_merged_in_any_order():
    images, prompts = _data()
    direct = _metrics()
    for a, b in CHUNKS:
        for m in direct.values():
            m.update(images[a:b], prompts[a:b])
    want = _values(direct)
    for order in ([0, 1, 2, 3, 4], [4, 2, 0, 3, 1]):
        got = _merged(order)
        assert got["scores"] == want["scores"] and got["acc"] == want["acc"]
        assert got["fid"][3:] == want["fid"][3:]  # n, per-sample
        np.testing.assert_allclose(got["fid"][:3], want["fid"][:3], rtol=1e-12)
    per_sample = want["acc"][3]  # aligned with the prompts: None where the prompt is outside the subset
    assert want["acc"][4] == N // 2 and [s is None for s in per_sample] == [i % 2 == 0 for i in range(N)]
    assert not any(math.isnan(s) for s in per_sample if s is not None)


def _worker(rank: int, world: int, mine: list) -> dict:
    return _merged(mine[rank])  # compute() is a collective: both ranks call it


@pytest.mark.parametrize("mine", [[[0, 2, 4], [1, 3]], [[0, 1, 2, 3, 4], []]], ids=["round-robin", "idle-rank"])
def test_two_gloo_processes_reduce_to_the_single_process_values(tmp_path, mine):
    want = _merged([0, 1, 2, 3, 4])
    for got in on_two_processes(_worker, tmp_path, mine):
        assert got["scores"] == want["scores"] and got["acc"] == want["acc"]  # gathered and re-ordered exactly
        assert got["fid"][3:] == want["fid"][3:]
        np.testing.assert_allclose(got["fid"][:3], want["fid"][:3], rtol=1e-12)  # summed in another order


def test_one_sample_keeps_its_table_shape():
    # torchmetrics squeezes one-element results; a one-prompt run must still index rows as [N, width].
    rows = IndexedRows(1)
    rows.extend(torch.tensor([2.5]))
    index, values = rows.compute()
    assert index.tolist() == [0] and values.tolist() == [[2.5]]
