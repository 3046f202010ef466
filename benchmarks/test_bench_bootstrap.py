"""The toy FID's bootstrap (200 resamples of 320 x 128-d features against a 1280-sample reference): numpy BLAS with
one thread vs two (each in a fresh interpreter, alternating), and the Cholesky path vs the eigh form in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import sidebyside
from ddmd_bench.metrics import functional as F

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import numpy as np
from ddmd_bench.metrics import functional as F
rng = np.random.default_rng(0)
ref = rng.normal(size=(1280, 128)) @ rng.normal(size=(128, 128))
gen = rng.normal(size=(320, 128)) @ rng.normal(size=(128, 128))
print(repr(F.bootstrap_fid_std(gen, ref.mean(0), np.cov(ref, rowvar=False), 200, method="eigh")))
"""


def _bootstrap_in_subprocess(blas_threads: int):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(blas_threads)}
    return lambda: subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True,
                                  text=True).stdout


def test_bootstrap_numpy_blas_one_vs_two_threads(benchmark):
    one, two = _bootstrap_in_subprocess(1), _bootstrap_in_subprocess(2)
    assert one() == two()  # the thread count changes the time, not the number
    ratio = sidebyside.compare("toy_fid_bootstrap_blas_1_vs_2_threads", one, two, rounds=3,
                               baseline="OPENBLAS_NUM_THREADS=2 (OpenBLAS's own default on 2 cores)")
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(one, rounds=1, warmup_rounds=0)


def test_bootstrap_cholesky_vs_eigh(benchmark):
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(1280, 128)) @ rng.normal(size=(128, 128))
    gen = rng.normal(size=(320, 128)) @ rng.normal(size=(128, 128))
    args = (gen, ref.mean(0), np.cov(ref, rowvar=False), 200)
    ratio = sidebyside.compare("toy_fid_bootstrap_cholesky_vs_eigh", lambda: F.bootstrap_fid_std(*args),
                               lambda: F.bootstrap_fid_std(*args, method="eigh"), rounds=3,
                               baseline="ours, eigh form (each resample factored)")
    benchmark.extra_info.update(ratio)
    value = benchmark.pedantic(F.bootstrap_fid_std, args=args, rounds=1, warmup_rounds=0)
    assert value == pytest.approx(F.bootstrap_fid_std(*args, method="eigh"), rel=1e-8)
