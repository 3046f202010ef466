"""Which finished records a run reuses is rank 0's decision: with results on storage local to each node, the ranks
can see different files, and ranks that decided apart would run different generators and wait on each other's
collectives forever."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ddmd_bench.evaluation.suite import EvaluationRequest, RunOptions, evaluate_suite, resolve, reusable
from ddmd_bench.utils.distributed import World
from tests.gloo import on_two_processes

MODELS = ("toy-teacher/euler-1/nocfg", "dmd-1step")
LIMIT = 12


def _request(results: Path) -> EvaluationRequest:
    return EvaluationRequest(models=MODELS, limit=LIMIT, results_dir=results, leaderboard_dir=None,
                             run=RunOptions(batch_size=6, progress=False, latency=False, workers=1))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A results folder holding a finished record of the first model only."""
    results = tmp_path_factory.mktemp("finished")
    outcome = evaluate_suite(replace(_request(results), models=MODELS[:1]))
    assert len(outcome.records) == 1 and not outcome.failed
    return results


def _decide(rank: int, world: int, arrangements: list[list[str]]) -> list[list[int]]:
    """For each arrangement of folders (one per rank), the indices this rank reuses."""
    out = []
    for folders in arrangements:
        request = _request(Path(folders[rank]))  # each rank looks at its own (node-local) folder
        resolved = resolve(request)
        out.append(sorted(reusable(request, resolved.protocol, resolved.generators, World.current())))
    return out


def test_alone_the_finished_record_is_reused(finished):
    request = _request(finished)
    resolved = resolve(request)
    assert sorted(reusable(request, resolved.protocol, resolved.generators, World())) == [0]
    assert reusable(replace(request, force=True), resolved.protocol, resolved.generators, World()) == {}


def test_every_rank_follows_rank_0(finished, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # rank 0 sees the finished record and rank 1 does not, then the other way round
    rank0_has_it, rank1_has_it = [str(finished), str(empty)], [str(empty), str(finished)]
    decisions = on_two_processes(_decide, tmp_path, [rank0_has_it, rank1_has_it])
    assert decisions == [[[0], []], [[0], []]]  # per rank: both ranks reuse exactly what rank 0 found
