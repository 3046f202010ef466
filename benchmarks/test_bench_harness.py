"""Harness overhead and memory on the toy track.

- Overhead: `runner.run` (chunk files, merge, record) against the bare loop of the same generator and metrics
  (generate, update, compute), latency measurement excluded from both. Target: at most 10% more.
- Memory: peak RSS of a run at N = 4096 against N = 256 (a child process each). Target: within 10%.

Run: `pytest benchmarks/test_bench_harness.py --benchmark-only -s`.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

from ddmd_bench.evaluation import runner
from ddmd_bench.tracks.toy.generators import ToyGenerator, ToyGeneratorSpec
from ddmd_bench.metrics import latency as latency_mod


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
    latency_seconds = []
    real_measure = latency_mod.measure

    def timed_measure(*args, **kwargs):
        t0 = time.perf_counter()
        out = real_measure(*args, **kwargs)
        latency_seconds.append(time.perf_counter() - t0)
        return out

    monkeypatch.setattr(latency_mod, "measure", timed_measure)
    bare = []
    for _ in range(3):
        t0 = time.perf_counter()
        _bare(gen, protocol, context, 64)
        bare.append(time.perf_counter() - t0)
    harness = []

    def once():
        t0 = time.perf_counter()
        runner.run(gen, protocol, context, batch_size=64, progress=False, work_dir=tmp_path / f"w{len(harness)}")
        harness.append(time.perf_counter() - t0 - latency_seconds[-1])

    benchmark.pedantic(once, rounds=3, iterations=1)
    ratio = min(harness) / min(bare)
    benchmark.extra_info.update(bare_s=min(bare), harness_s=min(harness), ratio=ratio)
    print(f"harness {min(harness):.2f}s vs bare {min(bare):.2f}s: ratio {ratio:.3f}")
    assert ratio <= 1.10


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


def _peak(n: int) -> dict:
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=root, n=n)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_memory_is_flat_in_n(benchmark):
    small = _peak(256)
    big = benchmark.pedantic(lambda: _peak(4096), rounds=1, iterations=1)
    growth = (big["peak_kb"] - big["before_kb"]) - (small["peak_kb"] - small["before_kb"])
    benchmark.extra_info.update(peak_256_mb=small["peak_kb"] / 1024, peak_4096_mb=big["peak_kb"] / 1024)
    print(f"peak RSS N=256 {small['peak_kb'] / 1024:.0f} MB, N=4096 {big['peak_kb'] / 1024:.0f} MB")
    assert big["peak_kb"] <= 1.10 * small["peak_kb"], growth
