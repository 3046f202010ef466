"""Run one generator on one protocol: generate in batches, stream images into every metric, time it, record it."""

from __future__ import annotations

import contextlib
import datetime
import logging
import tempfile
import time
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ddmd_bench.evaluation import sample_needs, shards
from ddmd_bench.evaluation.context import EvalContext, RecordsDataFiles, resizes
from ddmd_bench.evaluation.records import Result
from ddmd_bench.evaluation.resize import AtResolution
from ddmd_bench.generators.base import ColdStartable, Generator, Placed, Staged, Traced
from ddmd_bench.metrics import latency as latency_mod
from ddmd_bench.metrics.base import Metric, MetricValue
from ddmd_bench.protocol import Protocol, check_prompts
from ddmd_bench.provenance import device_info, environment
from ddmd_bench.utils.distributed import World
from ddmd_bench.utils.progress import Progress

log = logging.getLogger(__name__)


class MetricFailed(RuntimeError):
    """At least one metric failed; the result (with tracebacks) is attached and nothing is published."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


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


def compute_all(metrics: dict[str, Metric], progress: bool = False) -> dict[str, dict[str, Any]]:
    """Each metric's result, or status 'error' with its traceback (never silently dropped). An interval computed
    from fewer samples than `sample_needs.interval_min_n` is left out (`sample_needs.without_short_interval`)."""
    out = {}
    bar = Progress(len(metrics), "compute metrics", "metric", enabled=progress)
    for name, metric in metrics.items():
        bar.update(0, metric=name)
        try:
            value: MetricValue = sample_needs.without_short_interval(metric.compute())
            out[name] = {"status": "ok", **asdict(value), "higher_is_better": metric.higher_is_better,
                         "version": metric.version, "spec": metric.spec()}
        except Exception as exc:  # recorded, then the run fails as a whole
            log.error("metric %s failed: %s", name, exc)
            out[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc(), "spec": metric.spec()}
        bar.update(1)
    bar.close()
    return out


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """How one run executes; none of it changes the numbers."""

    batch_size: int = 96
    progress: bool = True
    device: torch.device | None = None  # None: the generator's own device, else the CPU
    work_dir: Path | None = None  # finished chunks, so an interrupted run resumes (None: a temporary folder)
    world: World | None = None  # None: the current process group (a single process outside torchrun)
    image_dir: Path | None = None  # save every image as PNG here
    latency: bool = True  # False: no warm latency and no cold start; the record says latency was not measured
    latency_rounds: int | None = None  # timed latency rounds (None: the protocol's)


def run(generator: Generator, protocol: Protocol, context: EvalContext, batch_size: int = 96, progress: bool = True,
        device: torch.device | None = None, work_dir: Path | None = None, world: World | None = None,
        image_dir: Path | None = None) -> dict[str, Any] | None:
    """Evaluate `generator` on `protocol`: its prompts are checked first, then `run_checked`; returns the record's
    JSON form (None on ranks other than 0) or raises `MetricFailed`."""
    check_prompts(protocol, context.prompt_set)  # before any model is loaded or image generated
    result = run_checked(generator, protocol, context,
                         RunnerOptions(batch_size, progress, device, work_dir, world, image_dir))
    return None if result is None else result.to_dict()


def run_checked(generator: Generator, protocol: Protocol, context: EvalContext,
                options: RunnerOptions = RunnerOptions()) -> Result | None:
    """Evaluate `generator` on `protocol`, whose prompts the caller has checked (`protocols.get_protocol` does);
    returns the result (None on ranks other than 0) or raises `MetricFailed`. Chunks of `options.batch_size`
    prompts are saved under `options.work_dir`, so an interrupted run resumes; under torchrun, ranks share the
    chunks out, each merges its own, and the metrics reduce their states over ranks."""
    device = options.device or (generator.device if isinstance(generator, Placed) else None) or torch.device("cpu")
    world = options.world or World.current()
    resize = resizes(context)
    wrapped = AtResolution(generator, protocol.resolution, resize)
    prompts = context.prompt_set.prompts
    sample_needs.check(protocol, prompts)  # before any metric loads its weights
    metrics = context.build_metrics(protocol)
    check_metric_specs(protocol, metrics)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    plan = shards.ShardPlan(len(prompts), options.batch_size, world.rank, world.size)
    key = shards.run_key(protocol.fingerprint, generator.describe(), options.batch_size)
    sample_needs.check(protocol, prompts, metrics)  # a metric's subset counted too, still before any image
    # Before any image of the run: a cold start timed after it would be a warm call.
    cold = _cold_start(generator, protocol, resize, prompts[0], device) if world.is_main and options.latency else None
    with contextlib.ExitStack() as stack:
        work_dir = options.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ddmd-bench-run-")))
        shards.generate_chunks(wrapped, prompts, protocol.seeds(len(prompts)), metrics, plan, work_dir, key,
                               options.progress, options.image_dir)
        gen_seconds = world.sum(shards.merge_chunks(metrics, plan, work_dir, key))
        # a collective: torchmetrics reduces every metric state over the ranks
        results = compute_all(metrics, options.progress)
    if not world.is_main:
        return None
    latency = _latency(wrapped, generator, protocol, prompts[0], device, options)
    if cold is not None:
        latency["cold_start"] = cold
    result = build_result(generator, protocol, prompts, results, latency, started,
                          {"total_s": time.perf_counter() - t0, "generation_s": gen_seconds,
                           "images_per_s": len(prompts) / gen_seconds if gen_seconds else None,
                           "batch_size": options.batch_size, "world_size": world.size})
    result = result.replace(
        resize=wrapped.resize_record(),
        trace=generator.last_trace if isinstance(generator, Traced) else None,
        data_files=context.data_record() if isinstance(context, RecordsDataFiles) else None)
    gate = protocol.quality_gate()
    if gate is not None and not result.failed_metrics:
        outcome = gate.check_record(result.to_dict())
        result = result.replace(gate={"passed": outcome.passed, "summary": outcome.summary()})
    if result.failed_metrics:
        raise MetricFailed(f"metrics failed: {', '.join(result.failed_metrics)}", result)
    return result


def check_before_generation(protocol: Protocol, context: EvalContext, metrics: dict[str, Metric]) -> None:
    """What `run_checked` checks before its first image: the metrics are the protocol's, and the prompt list is
    long enough for each of them (for runs whose chunks are made apart from `run_checked`)."""
    check_metric_specs(protocol, metrics)
    sample_needs.check(protocol, context.prompt_set.prompts, metrics)


def chunk_count(protocol: Protocol, context: EvalContext, batch_size: int) -> int:
    """How many chunks a run of `batch_size` prompts per chunk cuts the prompt list into."""
    return len(shards.ShardPlan(len(context.prompt_set.prompts), batch_size).chunks)


def generate_chunk(generator: Generator, protocol: Protocol, context: EvalContext, metrics: dict[str, Metric],
                   index: int, options: RunnerOptions) -> dict[str, Any] | None:
    """Generate and score chunk `index` of a run into `options.work_dir` exactly as `run_checked` does (same chunk
    boundaries, seeds, key and saved states), so a later `run_checked` on that folder finds the chunk finished and
    merges it. Lets chunks of one run be made in several processes; `metrics` are reset before the chunk. Returns
    the record's `resize` field as this chunk saw it (None: the images had the protocol's resolution, or the chunk
    was already finished)."""
    if options.work_dir is None:
        raise ValueError("generate_chunk needs the run's work_dir: run_checked reads the chunk from there")
    prompts = context.prompt_set.prompts
    n_chunks = chunk_count(protocol, context, options.batch_size)
    # A plan of one chunk: `index` of `n_chunks` round-robin "ranks" owns exactly chunk `index`.
    plan = shards.ShardPlan(len(prompts), options.batch_size, rank=index, world=n_chunks)
    key = shards.run_key(protocol.fingerprint, generator.describe(), options.batch_size)
    wrapped = AtResolution(generator, protocol.resolution, resizes(context))
    shards.generate_chunks(wrapped, prompts, protocol.seeds(len(prompts)), metrics, plan, options.work_dir, key,
                           False, options.image_dir)
    return wrapped.resize_record()


def measure_latency(generator: Generator, protocol: Protocol, context: EvalContext,
                    options: RunnerOptions = RunnerOptions()) -> dict[str, Any]:
    """Cold start and warm latency of `generator` on its own, as `run_checked` records them: for runs whose images
    were made elsewhere (worker processes), timed once nothing else runs beside it."""
    device = options.device or (generator.device if isinstance(generator, Placed) else None) or torch.device("cpu")
    resize = resizes(context)
    prompt = context.prompt_set.prompts[0]
    cold = _cold_start(generator, protocol, resize, prompt, device) if options.latency else None
    latency = _latency(AtResolution(generator, protocol.resolution, resize), generator, protocol, prompt, device,
                       options)
    if cold is not None:
        latency["cold_start"] = cold
    return latency


def _latency(wrapped: Generator, generator: Generator, protocol: Protocol, prompt: str, device: torch.device,
             options: RunnerOptions) -> dict[str, Any]:
    """Warm latency under the protocol's settings (`options.latency_rounds` timed rounds when given, recorded with
    the protocol's count), or a record that says it was not measured."""
    if not options.latency:
        return {"measured": False, "why": "latency was switched off for this run; no latency number exists"}
    config = latency_mod.LatencyConfig(**{k: protocol.latency[k] for k in ("warmup", "rounds", "batch_size")})
    rounds = options.latency_rounds or config.rounds
    latency = latency_mod.measure(lambda: wrapped.generate([prompt], [protocol.seed_base]),
                                  latency_mod.LatencyConfig(config.warmup, rounds, config.batch_size), device,
                                  protocol.latency.get("what", "generate()"),
                                  generator.stage_seconds if isinstance(generator, Staged) else None,
                                  progress=options.progress)
    if rounds != config.rounds:
        latency["protocol_rounds"] = config.rounds
    return {"measured": True, **latency, "device": device_info(device)}


def _cold_start(generator: Generator, protocol: Protocol, resize: bool, prompt: str,
                device: torch.device) -> dict[str, Any]:
    """Load + first image of a newly built instance of `generator` (recorded apart from the warm latency), or why
    it was not measured."""
    if not isinstance(generator, ColdStartable):
        return {"seconds": None, "what": f"not measured: {type(generator).__name__} cannot build a new instance"}
    return latency_mod.cold_start(lambda: AtResolution(generator.fresh(), protocol.resolution, resize),
                                  lambda g: g.load(), lambda g: g.generate([prompt], [protocol.seed_base]), device)


def build_result(generator: Generator, protocol: Protocol, prompts, results, latency, started,
                 timings) -> Result:
    """The schema-versioned result of a finished run."""
    return Result(
        run_id=uuid.uuid4().hex,
        created=started.isoformat(timespec="seconds"),
        status="ok" if all(r["status"] == "ok" for r in results.values()) else "failed",
        protocol={"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
        generator=generator.describe(),
        n_images=len(prompts) * protocol.images_per_prompt,
        metrics=results,
        latency=latency,
        environment=environment(),
        timings=timings,
    )
