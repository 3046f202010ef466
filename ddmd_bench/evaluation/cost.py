"""What a run will cost before it runs: denoiser calls times the cost of one call, read from an earlier run of the
same generator on the same hardware or else measured on this machine with one image (`evaluate --dry-run`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ddmd_bench.evaluation import records
from ddmd_bench.evaluation.records import Result
from ddmd_bench.generators.base import ColdStartable, Generator, Placed
from ddmd_bench.metrics.dispersion import hardware
from ddmd_bench.protocol import Protocol
from ddmd_bench.provenance import device_info


@dataclass(frozen=True, slots=True)
class CallCost:
    """Seconds per denoiser call, and where that number comes from."""

    seconds: float
    source: str


def from_record(result: Result) -> CallCost | None:
    """The per-call cost of a finished run: its generation time over its images times their denoiser calls."""
    generation_s, nfe, n = result.timings.get("generation_s"), result.generator.get("nfe"), result.n_images
    if not (generation_s and nfe and n):
        return None
    return CallCost(generation_s / (n * nfe),
                    f"earlier run of {result.created}: {n} images x {nfe} calls at batch "
                    f"{result.timings.get('batch_size')} in {generation_s:.1f} s")


def measure(generator: Generator, prompt: str, seed: int) -> CallCost:
    """Time one image at batch 1 on this machine, after loading (a load is no per-call cost). Text encoding and
    decoding count towards the calls, and batch 1 is the slowest per image, so the estimate errs high."""
    if isinstance(generator, ColdStartable):
        generator.load()
    t0 = time.perf_counter()
    generator.generate([prompt], [seed])
    seconds = time.perf_counter() - t0
    return CallCost(seconds / generator.nfe, f"measured on this machine: one image ({generator.nfe} calls, batch 1) "
                                             f"in {seconds:.3g} s")


def _device(generator: Generator) -> torch.device:
    return generator.device if isinstance(generator, Placed) else torch.device("cpu")


def earlier_cost(results_dir: Path, generator: Generator) -> CallCost | None:
    """The cost recorded by the newest earlier run of this exact generator (same description, so the same weights
    and sampling) on this hardware, under any protocol."""
    here = hardware({"device": device_info(_device(generator))})
    name = records.record_path(results_dir, "-", generator.name).name
    found = []
    for path in sorted(Path(results_dir).glob(f"*/{name}")):
        result = records.read_result(path)
        if result is None or result.status != "ok" or result.generator != generator.describe() \
                or hardware(result.latency or {}) != here:
            continue
        cost = from_record(result)
        if cost is not None:
            found.append((result.created, cost))
    return max(found, key=lambda item: item[0])[1] if found else None


def estimate(generator: Generator, protocol: Protocol, prompt: str, n_images: int, results_dir: Path,
             latency: bool, latency_rounds: int | None) -> dict[str, Any]:
    """The dry run's cost fields of one generator that is to run: per-call cost and its source, and the estimated
    seconds of generation and of the latency calls (warm-up and timed, at batch 1)."""
    try:
        cost = earlier_cost(results_dir, generator) or measure(generator, prompt, protocol.seed_base)
    except (OSError, ValueError, RuntimeError) as exc:  # the run would fail the same way: say so, estimate nothing
        return {"seconds_per_denoiser_call": None, "cost_source": f"not measured: {type(exc).__name__}: {exc}",
                "estimated_generation_s": None, "estimated_latency_s": None}
    calls = protocol.latency.get("warmup", 0) + (latency_rounds or protocol.latency.get("rounds", 0))
    return {"seconds_per_denoiser_call": cost.seconds, "cost_source": cost.source,
            "estimated_generation_s": round(n_images * generator.nfe * cost.seconds, 1),
            "estimated_latency_s": round(calls * generator.nfe * cost.seconds, 1) if latency else None}


def render(entry: dict[str, Any]) -> str:
    """'~42 s generation + ~3 s latency (<source>)' of a dry-run entry."""
    if "cost_source" not in entry:
        return f"~{entry['estimated_generation_s']:.0f} s"
    if entry["seconds_per_denoiser_call"] is None:
        return f"no estimate ({entry['cost_source']})"
    latency = entry["estimated_latency_s"]
    return (f"~{entry['estimated_generation_s']:.0f} s generation"
            + (f" + ~{latency:.0f} s latency" if latency is not None else "")
            + f" ({entry['seconds_per_denoiser_call'] * 1000:.3g} ms per call, {entry['cost_source']})")
