"""Harness overhead and memory on the toy track, each measured side by side.

- Overhead: `runner.run` (prompt checks, chunk files, merge, record) against the bare loop of the same generator
  and metrics (generate, update, compute), alternating round by round; the protocol's latency rounds and cold start,
  which the bare loop does not run, are excluded from the runner's time. Target: at most 1.03x.
- Memory: peak RSS of a run at N = 4096 against N = 256 prompts (a fresh child process each, alternating).
  Target: at most 2% more.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import sidebyside
from ddmd_bench.evaluation import runner
from ddmd_bench.metrics import latency as latency_mod
from ddmd_bench.tracks.toy.generators import ToyGenerator, ToyGeneratorSpec

ROOT = Path(__file__).resolve().parents[1]
ROUNDS_MEMORY = 2  # peak RSS hardly depends on load; each round is two fresh evaluations


def _protocol(n: int):
    from ddmd_bench.prompts import PromptSet
    from ddmd_bench.tracks.toy.prompts import toy_prompt_set
    from ddmd_bench.tracks.toy.track import ToyContext, toy_protocol

    base, _ = toy_protocol()
    full = toy_prompt_set().prompts
    prompts = tuple(full[i % len(full)] for i in range(n))
    pset = PromptSet(f"toy-x{n}", 1, prompts)
    protocol = dataclasses.replace(base, name=f"toy-bench-{n}", prompt_set=pset.ref())
    return protocol, ToyContext(pset)


def _bare(gen, protocol, context, batch):
    prompts = context.prompt_set.prompts
    seeds = protocol.seeds(len(prompts))
    metrics = context.build_metrics(protocol)
    for a in range(0, len(prompts), batch):
        images = gen.generate(list(prompts[a:a + batch]), seeds[a:a + batch])
        for m in metrics.values():
            m.update(images, list(prompts[a:a + batch]))
    return {name: m.compute() for name, m in metrics.items()}


def test_harness_overhead(benchmark, monkeypatch, tmp_path):
    gen = ToyGenerator(ToyGeneratorSpec("teacher", steps=4))
    protocol, context = _protocol(320)
    context.build_metrics(protocol)  # warm caches (reference statistics, models)
    measured: list[float] = []  # seconds spent in the protocol's latency and cold-start measurements

    def timed(fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                measured.append(time.perf_counter() - t0)
        return wrapper

    monkeypatch.setattr(latency_mod, "measure", timed(latency_mod.measure))
    monkeypatch.setattr(latency_mod, "cold_start", timed(latency_mod.cold_start))
    runs = iter(range(10**6))

    def harness():
        measured.clear()
        runner.run(gen, protocol, context, batch_size=64, progress=False, work_dir=tmp_path / f"w{next(runs)}")

    ratio = sidebyside.compare("harness_overhead_toy_320", harness, lambda: _bare(gen, protocol, context, 64),
                               rounds=3, warmup=1, excluded=lambda: sum(measured),
                               baseline="bare loop: generate, update, compute (same generator, metrics, batches)")
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(harness, rounds=1, iterations=1)
    assert ratio["ours_median_s"] > 0 and ratio["baseline_median_s"] > 0


_CHILD = """
import json, resource, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from benchmarks.test_bench_harness import _protocol
from ddmd_bench.evaluation import runner
from ddmd_bench.tracks.toy.generators import ToyGenerator, ToyGeneratorSpec
protocol, context = _protocol({n})
gen = ToyGenerator(ToyGeneratorSpec("teacher", steps=1))
context.build_metrics(protocol)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
runner.run(gen, protocol, context, batch_size=64, progress=False)
print(json.dumps({{"before_kb": before, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def peak(n: int) -> dict:
    """Peak RSS (KiB) of a fresh process evaluating the toy teacher on `n` prompts, before and after the run."""
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT), n=n)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_memory_is_flat_in_n(benchmark):
    small, big = [], []
    for _ in range(ROUNDS_MEMORY):  # alternating, so a neighbour's load or page cache state hits both sizes alike
        small.append(peak(256))
        big.append(peak(4096))
    sizes = (("256", small), ("4096", big))
    mib = {name: statistics.median(r["peak_kb"] for r in runs) / 1024 for name, runs in sizes}
    before = {name: statistics.median(r["before_kb"] for r in runs) / 1024 for name, runs in sizes}
    ratio = sidebyside.record("peak_rss_toy_4096_vs_256_prompts", mib["4096"], mib["256"], unit="MiB",
                              rounds=ROUNDS_MEMORY,
                              baseline="same run at N = 256 prompts",
                              before_run_mib={"256": before["256"], "4096": before["4096"]})
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(lambda: peak(256), rounds=1, iterations=1)
    assert mib["256"] > 0 and mib["4096"] > 0
