"""CPU threads per process: the one place that decides them.

OpenMP threads that outnumber the cores spin against each other: several processes with two threads each on two
cores ran toy evaluations many times slower than with one thread each. The default is therefore the cores this
process may run on (its CPU affinity, which containers and `taskset` restrict) divided among the local processes of
a launch (torchrun's LOCAL_WORLD_SIZE). An explicit `--threads` wins, then an OMP_NUM_THREADS the user set.

numpy's own BLAS (OpenBLAS; torch uses MKL and OpenMP) gets one thread unless OPENBLAS_NUM_THREADS says otherwise:
it only runs the metric math on small matrices (FID covariances, 200 bootstrap resamples of a 128-d one), where a
second thread costs more than it saves and, on a busy machine, made the toy FID bootstrap 20x slower.

`configure` is meant to run before torch or numpy load: it sets the OpenMP/BLAS environment variables, which those
libraries read once at import; if torch is already loaded it also sets torch's intra-op pool.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

# Variables read at library load: OpenMP (torch's intra-op pool) and MKL (torch's BLAS) get the chosen count;
# OpenBLAS (numpy's BLAS) gets NUMPY_BLAS_THREADS.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
NUMPY_BLAS_VARIABLE = "OPENBLAS_NUM_THREADS"
NUMPY_BLAS_THREADS = 1


@dataclass(frozen=True, slots=True)
class ThreadChoice:
    """How many threads each process uses and why (recorded in every result's environment)."""

    threads: int
    source: str  # "--threads", "OMP_NUM_THREADS" or "cores / local processes"
    cores: int
    local_processes: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for records."""
        return asdict(self)


def available_cores() -> int:
    """Cores this process may run on (its affinity mask), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


def local_processes(env: Mapping[str, str]) -> int:
    """Processes of this launch on this machine: torchrun's LOCAL_WORLD_SIZE, else 1."""
    raw = env.get("LOCAL_WORLD_SIZE", "1")
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"LOCAL_WORLD_SIZE={raw!r} is not a positive integer; unset it or launch with torchrun")
    return n


def choose_threads(requested: int | None = None, env: Mapping[str, str] | None = None,
                   cores: int | None = None) -> ThreadChoice:
    """Threads for this process: `requested` (--threads), else a positive OMP_NUM_THREADS, else the available cores
    shared evenly among the local processes (at least one each)."""
    env = os.environ if env is None else env
    cores = available_cores() if cores is None else cores
    procs = local_processes(env)
    if requested is not None:
        if requested < 1:
            raise ValueError(f"--threads must be >= 1, got {requested}")
        return ThreadChoice(requested, "--threads", cores, procs)
    omp = env.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) >= 1:
        return ThreadChoice(int(omp), "OMP_NUM_THREADS", cores, procs)
    return ThreadChoice(max(1, cores // procs), "cores / local processes", cores, procs)


_current: ThreadChoice | None = None


def configure(requested: int | None = None) -> ThreadChoice:
    """Choose and apply this process's thread count (see the module docstring); later calls re-apply."""
    global _current
    choice = choose_threads(requested)
    for name in THREAD_VARIABLES:
        if requested is not None or not _is_set(name):  # keep a value the user set
            os.environ[name] = str(choice.threads)
    if not _is_set(NUMPY_BLAS_VARIABLE):
        os.environ[NUMPY_BLAS_VARIABLE] = str(NUMPY_BLAS_THREADS)
    if "torch" in sys.modules:  # already loaded: the variables above came too late for its pool
        sys.modules["torch"].set_num_threads(choice.threads)
    log.info("using %d CPU threads per process (%s: %d cores, %d local processes)", choice.threads, choice.source,
             choice.cores, choice.local_processes)
    _current = choice
    return choice


def current_choice() -> ThreadChoice:
    """The applied choice, or what `configure` would choose now when it never ran (a library caller)."""
    return _current or choose_threads()


def worker_split(tasks: int, choice: ThreadChoice | None = None) -> tuple[int, int]:
    """(worker processes, threads each) for `tasks` independent CPU jobs of this process: its threads become
    one-thread workers, at most one per job and per core, so workers x threads never exceeds the threads this
    process was given (one worker keeps them all)."""
    choice = choice or current_choice()
    workers = max(1, min(tasks, choice.threads, choice.cores))
    return workers, max(1, choice.threads // workers)


def configure_worker(threads: int, workers: int) -> ThreadChoice:
    """Apply `threads` in a worker process started beside `workers - 1` others (`worker_split`); the record's
    source says so."""
    global _current
    parent = current_choice()
    choice = ThreadChoice(threads, f"{parent.source}, shared by {workers} worker processes", parent.cores,
                          parent.local_processes * workers)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    _current = choice
    return choice


def _is_set(name: str) -> bool:
    return os.environ.get(name, "").strip().isdigit()


def current() -> dict[str, Any]:
    """The applied choice plus torch's actual pool size, for a result's environment (None fields if never set)."""
    torch_threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    chosen = _current.to_dict() if _current is not None else {"threads": None, "source": "library default",
                                                              "cores": available_cores(), "local_processes": None}
    return {**chosen, "torch_intra_op": torch_threads, "numpy_blas": os.environ.get(NUMPY_BLAS_VARIABLE)}
