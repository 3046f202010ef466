"""One timer for `evaluate` and `benchmarks/`: warm latency (median / p90 / IQR, noise flag), cold start apart.

Warm latency times repeated calls of a generator that has already run; the cold start times a newly built instance:
building it (loading its weights) plus its first image. On CUDA warm calls are timed with events around a
synchronised region; on CPU, and for the cold start, with `time.perf_counter`.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.dispersion import NOISY_RELATIVE_IQR, relative_iqr
from ddmd_bench.utils.progress import Progress

log = logging.getLogger(__name__)

COLD_START_WHAT = "build a new instance and load its weights, then its first generate() for one prompt"


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    """How latency is measured (recorded with every result)."""

    warmup: int = 1
    rounds: int = 5
    batch_size: int = 1


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
            stages: Callable[[], dict[str, float]] | None = None, progress: bool = False) -> dict[str, Any]:
    """Warm latency of `fn`: `warmup` untimed calls, then `rounds` timed calls; the summary records its dispersion
    (IQR, IQR relative to the median) and `noisy` when that exceeds NOISY_RELATIVE_IQR (with a logged warning).

    `stages`, if given, returns the per-stage wall times of the call just made; their medians are reported.
    `progress` reports the calls (warm-up and timed) with an ETA.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    bar = Progress(config.warmup + config.rounds, "latency", "call", enabled=progress)
    for _ in range(config.warmup):
        fn()
        bar.update(1, phase="warm-up")
    samples, per_stage = [], []
    for _ in range(config.rounds):
        samples.append(_time_once(fn, device))
        if stages is not None:
            per_stage.append(stages())
        bar.update(1, phase="timed", last_s=samples[-1])
    bar.close()
    summary = metric_fn.quantile_summary(samples)
    out = {"unit": "s", "what": what, "timer": "cuda-events" if device.type == "cuda" else "perf_counter",
           "batch_size": config.batch_size, "warmup": config.warmup, **summary, **dispersion(summary, what)}
    if per_stage:
        out["stages_median"] = {k: metric_fn.quantile_summary([s[k] for s in per_stage])["median"]
                                for k in per_stage[0]}
    if device.type == "cuda":
        out["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(device))
    else:  # the process's peak resident set (Linux reports KiB), which includes everything loaded so far
        out["peak_rss_bytes"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    return out


def dispersion(summary: dict[str, Any], what: str = "latency") -> dict[str, Any]:
    """{'relative_iqr', 'noisy', 'noisy_threshold'} of a quantile summary; warns when it is noisy."""
    rel = relative_iqr(summary)
    noisy = rel is not None and rel > NOISY_RELATIVE_IQR
    if noisy:
        log.warning("%s: latency is noisy (IQR %.0f%% of the median %.4g s, above %.0f%%); the machine is probably "
                    "busy: its latency is recorded with noisy=true and refused by latency gates",
                    what, 100 * rel, summary["median"], 100 * NOISY_RELATIVE_IQR)
    return {"relative_iqr": rel, "noisy": noisy, "noisy_threshold": NOISY_RELATIVE_IQR}


def cold_start(build: Callable[[], Any], load: Callable[[Any], Any], first: Callable[[Any], Any],
               device: torch.device) -> dict[str, Any]:
    """Time a cold start: `build()` a new generator and `load(generator)` its weights, then `first(generator)`
    (its first image). The global RNG is restored afterwards, so measuring changes no later draw."""
    with torch.random.fork_rng(devices=[]):
        _sync(device)
        t0 = time.perf_counter()
        generator = build()
        load(generator)
        _sync(device)
        t1 = time.perf_counter()
        first(generator)
        _sync(device)
        t2 = time.perf_counter()
    return {"seconds": t2 - t0, "load_s": t1 - t0, "first_image_s": t2 - t1, "what": COLD_START_WHAT}
