"""Thread defaults: as many processes as cores, each sampling the toy teacher, with one thread each (the default,
`ddmd_bench.utils.threads`) against two each. Every process loads and warms its model once, then all of a group
start together; a round's time is the slowest process's, and the two groups alternate round by round."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks import sidebyside
from ddmd_bench.utils.threads import available_cores

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3

# Loads and warms the toy teacher, says so, then for each line on stdin samples 96 prompts and prints the seconds.
_CHILD = """
import json, sys, time, torch
from ddmd_bench.tracks.toy.generators import ToyGenerator, ToyGeneratorSpec
from ddmd_bench.tracks.toy.prompts import toy_prompt_set
gen = ToyGenerator(ToyGeneratorSpec("teacher", 4, 1.0))
prompts = list(toy_prompt_set().prompts[:96])
gen.generate(prompts[:8], list(range(8)))
print("ready", flush=True)
for _ in sys.stdin:
    t0 = time.perf_counter()
    gen.generate(prompts, list(range(len(prompts))))
    print(json.dumps({"seconds": time.perf_counter() - t0, "torch_threads": torch.get_num_threads()}), flush=True)
"""


class Group:
    """`processes` sampling processes with `threads` threads each, loaded and waiting for a start signal."""

    def __init__(self, processes: int, threads: int) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        self.threads = threads
        self.children = [subprocess.Popen([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        for child in self.children:
            assert child.stdout.readline().strip() == "ready", "a sampling process failed to start"

    def seconds(self) -> float:
        """Start every process at once; the wall seconds of the slowest."""
        for child in self.children:
            child.stdin.write("\n")
            child.stdin.flush()
        results = [json.loads(child.stdout.readline()) for child in self.children]
        assert all(r["torch_threads"] == self.threads for r in results), results
        return max(r["seconds"] for r in results)

    def close(self) -> None:
        for child in self.children:
            child.stdin.close()
            child.wait(timeout=60)


def test_one_thread_per_process(benchmark):
    processes = available_cores()
    one, two = Group(processes, 1), Group(processes, 2)  # idle while the other samples: they wait on stdin
    try:
        t_one, t_two = [], []
        for _ in range(ROUNDS):
            t_two.append(two.seconds())
            t_one.append(one.seconds())
        ratio = sidebyside.record("threads_processes_1_vs_2_each", statistics.median(t_one), statistics.median(t_two),
                                  rounds=ROUNDS, processes=processes,
                                  baseline=f"the same {processes} processes with 2 threads each")
        benchmark.extra_info.update(ratio)
        benchmark.pedantic(one.seconds, rounds=1, warmup_rounds=0)
    finally:
        one.close()
        two.close()
