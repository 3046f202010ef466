"""One timer for `evaluate` and `benchmarks/`: warm-up, cold start apart, median / p90 / IQR, peak memory.

On CUDA it times with events around a synchronised region; on CPU with `time.perf_counter`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ddmd_bench.metrics import functional as F


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    """How latency is measured (recorded with every result)."""

    warmup: int = 1
    rounds: int = 5
    batch_size: int = 1


def _time_once(fn: Callable[[], Any], device: torch.device) -> float:
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1000.0
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(fn: Callable[[], Any], config: LatencyConfig, device: torch.device, what: str,
            stages: Callable[[], dict[str, float]] | None = None) -> dict[str, Any]:
    """Time `fn`: the first call is the cold start, then `warmup` untimed calls, then `rounds` timed calls.

    `stages`, if given, returns the per-stage wall times of the call just made; their medians are reported.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    cold = _time_once(fn, device)
    for _ in range(config.warmup):
        fn()
    samples, per_stage = [], []
    for _ in range(config.rounds):
        samples.append(_time_once(fn, device))
        if stages is not None:
            per_stage.append(stages())
    out = {"unit": "s", "what": what, "timer": "cuda-events" if device.type == "cuda" else "perf_counter",
           "batch_size": config.batch_size, "warmup": config.warmup, "cold_start": cold,
           **F.quantile_summary(samples)}
    if per_stage:
        out["stages_median"] = {k: F.quantile_summary([s[k] for s in per_stage])["median"] for k in per_stage[0]}
    if device.type == "cuda":
        out["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(device))
    else:  # the process's peak resident set (Linux reports KiB), which includes everything loaded so far
        import resource

        out["peak_rss_bytes"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    return out
