"""Generators evaluated side by side in worker processes write the records the serial loop writes: same metric
values, intervals and per-sample scores, same output checks, in the requested order."""

from __future__ import annotations

import json

import pytest
import torch

from ddmd_bench.evaluation import workers
from ddmd_bench.evaluation.suite import EvaluationRequest, RunOptions, evaluate_suite

MODELS = ("toy-teacher/euler-4/cfg3", "dmd-1step", "toy-teacher/euler-1/nocfg")

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="worker processes are forked")


def _evaluate(tmp_path, n_workers: int):
    return evaluate_suite(EvaluationRequest(
        models=MODELS, limit=12, results_dir=tmp_path / f"results-{n_workers}", leaderboard_dir=None, force=True,
        run=RunOptions(batch_size=5, progress=False, latency_rounds=1, workers=n_workers)))


def _numbers(record) -> dict:
    """What must not depend on how the runs were spread: everything but timings, latency and the environment."""
    d = record.to_dict()
    return {key: d.get(key) for key in ("generator", "n_images", "metrics", "gate", "outputs", "status")}


@pytest.fixture
def one_thread():
    """One thread in the serial run too: on a shared machine a second spinning thread only slows the test down."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_workers_write_the_serial_records(tmp_path, one_thread):
    serial, parallel = _evaluate(tmp_path, 1), _evaluate(tmp_path, 2)
    assert [r.generator["name"] for r in parallel.records] == [r.generator["name"] for r in serial.records]
    assert len(serial.records) == len(MODELS) and not serial.failed and not parallel.failed
    for a, b in zip(serial.records, parallel.records):
        assert _numbers(b) == _numbers(a)
    # the worker records say how their threads were chosen
    envs = [r.environment["threads"] for r in parallel.records]
    assert all("shared by 2 worker processes" in e["source"] and e["threads"] >= 1 for e in envs), envs
    for name in ("toy-teacher", "dmd-1step"):
        assert any(name in p.name for p in (tmp_path / "results-2").rglob("*.samples.jsonl"))
    # latency is timed in the parent after the workers finish (alone, not beside another worker's generation), and
    # the record files on disk carry it
    for a, b in zip(serial.records, parallel.records):
        assert b.latency["measured"] and b.latency["median"] > 0 and b.latency["rounds"] == a.latency["rounds"] == 1
        assert b.latency["cold_start"]["seconds"] > 0 and b.latency["device"] == a.latency["device"]
    on_disk = [json.loads(p.read_text()) for p in (tmp_path / "results-2").rglob("*.json")
               if not p.name.endswith(".failed.json")]
    assert len(on_disk) == len(MODELS) and all(r["latency"]["measured"] for r in on_disk)


def test_a_failing_job_is_raised_in_the_caller():
    def job(i):
        if i == 1:
            raise ValueError("job 1 failed")
        return i * 10

    with pytest.raises(ValueError, match="job 1 failed"):
        dict(workers.run([0, 1, 2], job, workers=2, threads_each=1))
    assert dict(workers.run([0, 2, 3], job, workers=2, threads_each=1)) == {0: 0, 2: 20, 3: 30}


def test_worker_split_never_exceeds_the_threads_or_cores():
    from ddmd_bench.utils.threads import ThreadChoice, worker_split

    def choice(n, cores):
        return ThreadChoice(n, "test", cores, 1)

    assert worker_split(14, choice(2, 2)) == (2, 1)  # the default on two cores: two one-thread workers
    assert worker_split(14, choice(1, 2)) == (1, 1)  # --threads 1: one process
    assert worker_split(1, choice(8, 8)) == (1, 8)  # one job keeps every thread
    assert worker_split(3, choice(8, 8)) == (3, 2)
    assert worker_split(14, choice(16, 4)) == (4, 4)  # never more workers than cores
    for tasks in range(1, 20):
        for n in range(1, 9):
            for cores in range(1, 9):
                w, t = worker_split(tasks, choice(n, cores))
                assert 1 <= w <= min(tasks, cores) and (w == 1 or w * t <= n)
