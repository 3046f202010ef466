"""Run one generator on one protocol: generate in batches, stream images into every metric, time it, record it."""

from __future__ import annotations

import contextlib
import datetime
import logging
import tempfile
import time
import traceback
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ddmd_bench.evaluation import shards
from ddmd_bench.provenance import device_info, environment
from ddmd_bench.evaluation.records import SCHEMA_VERSION
from ddmd_bench.evaluation.resize import AtResolution
from ddmd_bench.generators.base import ColdStartable
from ddmd_bench.gates import gate_for
from ddmd_bench.metrics import latency as latency_mod
from ddmd_bench.metrics.base import Metric, MetricValue
from ddmd_bench.protocol import Protocol, check_prompts
from ddmd_bench.utils.distributed import World

log = logging.getLogger(__name__)


class MetricFailed(RuntimeError):
    """At least one metric failed; the record (with tracebacks) is attached and nothing is published."""

    def __init__(self, message: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.record = record


def check_metric_specs(protocol: Protocol, metrics: dict[str, Metric]) -> None:
    """The metrics about to run must be the ones the protocol names, with the same weights where the protocol pins
    them (the toy track ships its weights, so its protocol pins each sha256; a literature protocol cannot, since
    its weights come from the user's cache and no publisher states their hashes, so each result records them)."""
    if set(metrics) != set(protocol.metrics):
        raise ValueError(f"protocol {protocol.name} names metrics {sorted(protocol.metrics)}, got {sorted(metrics)}")
    for name, metric in metrics.items():
        if "weights_sha256" not in protocol.metrics[name]:
            continue
        want = protocol.metrics[name]["weights_sha256"]
        have = metric.spec().get("weights_sha256")
        if want != have:
            raise ValueError(f"metric {name}: weights {have} differ from the protocol's {want}")


def compute_all(metrics: dict[str, Metric]) -> dict[str, dict[str, Any]]:
    """Each metric's result, or status 'error' with its traceback (never silently dropped)."""
    out = {}
    for name, metric in metrics.items():
        try:
            value: MetricValue = metric.compute()
            out[name] = {"status": "ok", **asdict(value), "higher_is_better": metric.higher_is_better,
                         "version": metric.version, "spec": metric.spec()}
        except Exception as exc:  # recorded, then the run fails as a whole
            log.error("metric %s failed: %s", name, exc)
            out[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc(), "spec": metric.spec()}
    return out


def run(generator, protocol: Protocol, context, batch_size: int = 96, progress: bool = True,
        device: torch.device | None = None, work_dir: Path | None = None, world: World | None = None,
        image_dir: Path | None = None) -> dict[str, Any] | None:
    """Evaluate `generator` on `protocol`; returns the result record (None on ranks other than 0) or raises
    `MetricFailed`. Chunks of `batch_size` prompts are saved under `work_dir`, so an interrupted run resumes; under
    torchrun, ranks share the chunks out, each merges its own, and the metrics reduce their states over ranks."""
    device = device or getattr(generator, "device", None) or torch.device("cpu")
    world = world or World.current()
    built = generator
    resize = getattr(context, "resize_generated", False)
    generator = AtResolution(generator, protocol.resolution, resize)
    check_prompts(protocol, context.prompt_set)  # before any model is loaded or image generated
    prompts = context.prompt_set.prompts
    metrics = context.build_metrics(protocol)
    check_metric_specs(protocol, metrics)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    plan = shards.ShardPlan(len(prompts), batch_size, world.rank, world.size)
    key = shards.run_key(protocol.fingerprint, generator.describe(), batch_size)
    # Before any image of the run: a cold start timed after it would be a warm call.
    cold = _cold_start(built, protocol, resize, prompts[0], device) if world.is_main else None
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ddmd-bench-run-")))
        shards.generate_chunks(generator, prompts, protocol.seeds(len(prompts)), metrics, plan, work_dir, key,
                               progress, image_dir)
        gen_seconds = world.sum(shards.merge_chunks(metrics, plan, work_dir, key))
        results = compute_all(metrics)  # a collective: torchmetrics reduces every metric state over the ranks
    if not world.is_main:
        return None
    latency = latency_mod.measure(lambda: generator.generate([prompts[0]], [protocol.seed_base]),
                                  latency_mod.LatencyConfig(**{k: protocol.latency[k] for k in
                                                               ("warmup", "rounds", "batch_size")}),
                                  device, protocol.latency.get("what", "generate()"),
                                  getattr(generator, "stage_seconds", None))
    latency["cold_start"] = cold
    record = build_record(generator, protocol, prompts, results, latency, device, started,
                          {"total_s": time.perf_counter() - t0, "generation_s": gen_seconds,
                           "images_per_s": len(prompts) / gen_seconds if gen_seconds else None,
                           "batch_size": batch_size, "world_size": world.size})
    if generator.resize_record() is not None:
        record["resize"] = generator.resize_record()
    if getattr(generator, "last_trace", None) is not None:
        record["trace"] = generator.last_trace  # what the denoiser was called with in the latency run
    if hasattr(context, "data_record"):
        record["data_files"] = context.data_record()  # the user's files: path, sha256, whether a known hash matched
    gate = gate_for(protocol)
    if gate is not None and all(r["status"] == "ok" for r in results.values()):
        outcome = gate.check_record(record)
        record["gate"] = {"passed": outcome.passed, "summary": outcome.summary()}
    failed = [n for n, r in results.items() if r["status"] != "ok"]
    if failed:
        raise MetricFailed(f"metrics failed: {', '.join(failed)}", record)
    return record


def _cold_start(generator, protocol: Protocol, resize: bool, prompt: str, device: torch.device) -> dict[str, Any]:
    """Load + first image of a newly built instance of `generator` (recorded apart from the warm latency), or why
    it was not measured."""
    if not isinstance(generator, ColdStartable):
        return {"seconds": None, "what": f"not measured: {type(generator).__name__} cannot build a new instance"}
    return latency_mod.cold_start(lambda: AtResolution(generator.fresh(), protocol.resolution, resize),
                                  lambda g: g.load(), lambda g: g.generate([prompt], [protocol.seed_base]), device)


def build_record(generator, protocol: Protocol, prompts, results, latency, device, started, timings) -> dict:
    """The schema-versioned result record."""
    return {
        "schema_version": SCHEMA_VERSION,  # bump on any incompatible change; readers accept every older one
        "run_id": uuid.uuid4().hex,
        "created": started.isoformat(timespec="seconds"),
        "status": "ok" if all(r["status"] == "ok" for r in results.values()) else "failed",
        "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
        "generator": generator.describe(),  # weights sha, scheduler + timesteps, steps, guidance, dtype
        "n_images": len(prompts) * protocol.images_per_prompt,
        "metrics": results,  # name -> value, CI, n, per-sample scores (aligned with prompts), spec, status
        "latency": {**latency, "device": device_info(device)},
        "environment": environment(),
        "timings": timings,
    }
