"""Thread defaults: cores from the affinity mask shared among torchrun's local processes; --threads and a user's
OMP_NUM_THREADS win; the choice reaches the result's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ddmd_bench.utils import threads


@pytest.mark.parametrize("cores, env, expected", [
    (2, {}, 2),
    (2, {"LOCAL_WORLD_SIZE": "2"}, 1),
    (16, {"LOCAL_WORLD_SIZE": "4"}, 4),
    (2, {"LOCAL_WORLD_SIZE": "8"}, 1),  # more processes than cores: never zero threads
    (8, {"OMP_NUM_THREADS": "3", "LOCAL_WORLD_SIZE": "2"}, 3),
    (8, {"OMP_NUM_THREADS": "", "LOCAL_WORLD_SIZE": "2"}, 4),  # an empty variable is not a choice
])
def test_default_shares_cores_among_local_processes(cores, env, expected):
    assert threads.choose_threads(env=env, cores=cores).threads == expected


def test_requested_threads_override_everything():
    choice = threads.choose_threads(5, env={"OMP_NUM_THREADS": "2", "LOCAL_WORLD_SIZE": "2"}, cores=2)
    assert (choice.threads, choice.source) == (5, "--threads")


def test_bad_local_world_size_names_the_variable():
    with pytest.raises(ValueError, match="LOCAL_WORLD_SIZE='two'"):
        threads.choose_threads(env={"LOCAL_WORLD_SIZE": "two"}, cores=2)


def test_available_cores_follow_the_affinity_mask():
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no sched_getaffinity on this platform")
    assert threads.available_cores() == len(os.sched_getaffinity(0))


_PROBE = """
import json, sys
from ddmd_bench.utils import threads
choice = threads.configure(int(sys.argv[1]) if len(sys.argv) > 1 else None)
import torch
from ddmd_bench.provenance import environment
import os
print(json.dumps({"torch": torch.get_num_threads(), "recorded": environment()["threads"],
                  "openblas": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


@pytest.mark.parametrize("args, env, expected", [([], {"LOCAL_WORLD_SIZE": "2"}, None), (["1"], {}, 1)],
                         ids=["torchrun-default", "--threads"])
def test_configure_before_torch_loads_sets_its_pool_and_the_record(args, env, expected):
    clean = {k: v for k, v in os.environ.items()
             if k not in threads.THREAD_VARIABLES + (threads.NUMPY_BLAS_VARIABLE, "LOCAL_WORLD_SIZE")}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not args:  # the share of this machine's cores
        expected = max(1, threads.available_cores() // 2)
    assert out["torch"] == expected
    assert out["recorded"]["threads"] == expected and out["recorded"]["torch_intra_op"] == expected
    assert out["openblas"] == "1" and out["recorded"]["numpy_blas"] == "1"  # numpy's small-matrix BLAS: one thread
