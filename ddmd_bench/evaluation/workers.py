"""Run independent evaluation jobs in forked worker processes, each with its share of this process's threads.

A toy model's layers are too small to keep two threads busy, so the default suite's fourteen runs spread over
one-thread processes (one per core) use the cores better than one process with every thread.
Workers are forked, not spawned: each inherits the resolved protocol, its context, the built generators and the
metric models already loaded, so nothing is imported, read or hashed again, and a job runs exactly the code the
serial loop runs. A toy model's images and metric states do not depend on the thread count, so each record equals
the serial loop's (tests/integration/test_parallel_eval.py).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ddmd_bench.utils import progress, threads

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h) and the threshold set in workers: freed blocks below it stay in the heap.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BELOW_BYTES = 1 << 30

# The job every worker runs, set just before the workers are forked (they inherit it, so it need not pickle).
_JOB: Callable[[int], Any] | None = None


def can_fork() -> bool:
    """Whether this platform starts processes by fork (Linux; macOS and Windows spawn)."""
    return "fork" in multiprocessing.get_all_start_methods()


def run(indices: Iterable[int], job: Callable[[int], Any], workers: int, threads_each: int) -> Iterator[
        tuple[int, Any]]:
    """(index, job(index)) for each index, in the order they finish, from `workers` forked processes with
    `threads_each` threads each. A job's exception is raised here; leaving the loop early stops the workers."""
    global _JOB
    _JOB = job
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_start, initargs=(threads_each, workers),
                                                       maxtasksperchild=None) as pool:
            yield from pool.imap_unordered(_call, list(indices))
    finally:
        _JOB = None


def _start(threads_each: int, workers: int) -> None:
    threads.configure_worker(threads_each, workers)
    keep_freed_memory()


def keep_freed_memory() -> None:
    """Keep freed blocks of up to KEEP_BELOW_BYTES in this process's heap (glibc only; elsewhere nothing changes).

    By default glibc maps every block above a few MB afresh and unmaps it when freed, so each denoiser step of a
    batch re-faults its activations (tens of MB) page by page: a toy run spent about a sixth of its CPU time in the
    kernel doing that. Where memory comes from changes no computed value."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        kept = libc.mallopt(M_MMAP_THRESHOLD, KEEP_BELOW_BYTES) and libc.mallopt(M_TRIM_THRESHOLD, KEEP_BELOW_BYTES)
    except (OSError, AttributeError):  # not glibc (macOS, musl): its allocator stays as it is
        return
    if not kept:
        log.debug("glibc refused the malloc thresholds; freed memory is returned to the system as usual")


def _call(index: int) -> tuple[int, Any]:
    with progress.quieted():  # two workers' bars would overwrite each other; the parent reports finished jobs
        return index, _JOB(index)
