"""CMMD, KID and improved precision/recall share one state (the generated features, tagged with prompt indices):
their values do not depend on the batching, on the order shards are merged in, or on how many processes hold them
(two gloo processes reduce to the single-process values)."""

from __future__ import annotations

import numpy as np
import torch

from ddmd_bench.metrics.cmmd import CMMD
from ddmd_bench.metrics.feature_sets import features_reference
from ddmd_bench.metrics.kid import KID
from ddmd_bench.metrics.precision_recall import ImprovedPrecision, ImprovedRecall
from tests.factories import chunk_states, merge_states, metric_values
from tests.gloo import on_two_processes

N, DIM = 23, 6
CHUNKS = [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]


class _Linear:
    """A random linear feature extractor on uint8 images."""

    id, dim, weights_sha256, preprocessing = "test-linear-6", DIM, "0" * 64, "none"

    def __init__(self) -> None:
        self.w = torch.randn(3 * 4 * 4, DIM, generator=torch.Generator().manual_seed(0)) / 4

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1).float() / 255 @ self.w


def _images() -> tuple[torch.Tensor, list[str]]:
    images = torch.randint(0, 256, (N, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return images, [f"p{i}" for i in range(N)]


def _metrics() -> dict:
    extractor = _Linear()
    reference = features_reference(torch.randn(30, DIM, generator=torch.Generator().manual_seed(3)) * 0.8 + 0.5,
                                   extractor.id, "gaussian")
    return {"cmmd": CMMD(extractor, reference), "kid": KID(extractor, reference, subsets=10, subset_size=8),
            "precision": ImprovedPrecision(extractor, reference), "recall": ImprovedRecall(extractor, reference)}


def _streamed(sizes: list[int]) -> dict:
    images, prompts = _images()
    metrics, start = _metrics(), 0
    for size in sizes:
        for m in metrics.values():
            m.update(images[start:start + size], prompts[start:start + size])
        start += size
    return metric_values(metrics)


def _merged(order: list[int]) -> dict:
    return metric_values(merge_states(_metrics(), chunk_states(_metrics, *_images(), CHUNKS), order))


def _assert_close(got: dict, want: dict, rtol: float) -> None:
    assert got.keys() == want.keys()
    for name in want:
        assert got[name][3:] == want[name][3:], name  # per-sample scores (membership: exact) and n
        np.testing.assert_allclose(np.array(got[name][:3], dtype=float), np.array(want[name][:3], dtype=float),
                                   rtol=rtol, atol=1e-12, err_msg=name)


def test_value_does_not_depend_on_the_batching_or_the_merge_order():
    want = _streamed([N])
    assert all(np.isfinite(v[0]) for v in want.values()) and 0 < want["precision"][0] < 1
    _assert_close(_streamed([1] * N), want, rtol=1e-6)  # float32 features per batch: round-off only
    _assert_close(_streamed([5, 2, N - 7]), want, rtol=1e-6)
    shards = _merged([0, 1, 2, 3, 4])
    _assert_close(shards, want, rtol=1e-6)
    assert _merged([4, 2, 0, 3, 1]) == shards  # rows are sorted by prompt index: any order is bit-identical


# (rank 0's shards, rank 1's shards): round robin, then every shard on rank 1 (rank 0 gathers an empty placeholder)
ASSIGNMENTS = {"round-robin": ([0, 2, 4], [1, 3]), "idle-rank": ([], [0, 1, 2, 3, 4])}


def _worker(rank: int, world: int) -> dict:
    states = chunk_states(_metrics, *_images(), CHUNKS)
    # both assignments in one process group: one spawn, half the time; compute() is a collective: both call it
    return {label: metric_values(merge_states(_metrics(), states, mine[rank])) for label, mine in ASSIGNMENTS.items()}


def test_two_gloo_processes_reduce_to_the_single_process_values(tmp_path):
    want = _merged([0, 1, 2, 3, 4])
    for rank, got in enumerate(on_two_processes(_worker, tmp_path)):
        for label in ASSIGNMENTS:  # gathered and re-ordered by prompt index: the same rows, bit for bit
            assert got[label] == want, (label, rank)
