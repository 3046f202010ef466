"""`ddmd-bench evaluate`: resolve generators, reuse finished results, run the rest, publish to the leaderboard."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ddmd_bench import hashing
from ddmd_bench.evaluation import cost, records, runner, shards, workers
from ddmd_bench.evaluation.context import EvalContext, resizes
from ddmd_bench.evaluation.records import Result
from ddmd_bench.evaluation.resize import resolution_mismatch
from ddmd_bench.generators.base import FixedResolution, Generator, Placed
from ddmd_bench.generators.resolve import GeneratorOptions, requested, resolve_generator
from ddmd_bench.leaderboard import store, table
from ddmd_bench.protocol import Protocol
from ddmd_bench.protocols import get_protocol
from ddmd_bench.utils import threads
from ddmd_bench.utils.distributed import World
from ddmd_bench.utils.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one `evaluate` invocation did."""

    protocol: Protocol
    records: list[Result] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    leaderboard: Path | None = None
    added: int = 0
    reproduced: list[str] = field(default_factory=list)  # "<generator> on <hardware>", recorded in the sidecar

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (per-sample scores left out; they are in the record files)."""
        return {"protocol": {"name": self.protocol.name, "version": self.protocol.version,
                             "fingerprint": self.protocol.fingerprint},
                "results": [table.row(r.to_dict()) for r in self.records], "reused": self.reused,
                "failed": self.failed, "leaderboard": str(self.leaderboard) if self.leaderboard else None,
                "added": self.added, "reproduced": self.reproduced}

    def table(self) -> str:
        """Human-readable table of this invocation's results."""
        return table.render_text([table.row(r.to_dict()) for r in self.records], None)

    def footer(self) -> str:
        """Where things were written."""
        lines = [f"protocol {self.protocol.name} v{self.protocol.version} ({self.protocol.fingerprint[:12]})"]
        if self.reused:
            lines.append(f"reused {len(self.reused)} finished result(s); --force recomputes")
        if self.leaderboard:
            lines.append(f"leaderboard {self.leaderboard}: {self.added} new entr{'y' if self.added == 1 else 'ies'}")
        if self.reproduced:
            lines.append(f"{len(self.reproduced)} result(s) reproduce an existing entry (recorded in "
                         f"{store.reproductions_path(self.leaderboard)}, not ranked):")
            lines += [f"  {item}" for item in self.reproduced]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Per-invocation options of `evaluate` that do not change the numbers."""

    batch_size: int = 96
    progress: bool = True
    save_images: bool = False
    grid: bool = False
    latency: bool = True  # False: the records say latency was not measured
    latency_rounds: int | None = None  # timed latency rounds (None: the protocol's)
    workers: int | None = None  # processes that run generators side by side (None: threads.worker_split; 1: none)


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    """One `evaluate` invocation: what to run (protocol, generators), where results go, and how it runs."""

    protocol: str = "toy"
    models: tuple[str, ...] = ()  # generator names (`generators.resolve`); empty: the default suite
    limit: int | None = None  # only the first N prompts (a different protocol, named so)
    data: Mapping[str, Path] = field(default_factory=dict)  # the protocol's data files, by key
    results_dir: Path = Path("results")
    leaderboard_dir: Path | None = Path("leaderboards")  # None: write result records only
    force: bool = False  # recompute even when a finished record matches
    compile: bool = False  # torch.compile every generator's denoiser (recorded in its identity)
    generator_options: GeneratorOptions = GeneratorOptions()
    run: RunOptions = RunOptions()
    # Generators built by the caller (the Python API's in-memory models), run before the named `models`; with
    # any of them and no `models`, the default suite is not added.
    generators: tuple[Generator, ...] = ()
    run_config: Mapping[str, str] | None = None  # the run's `--config` file (path, sha256, text), recorded


@dataclass(frozen=True, slots=True)
class Resolved:
    """A request's protocol (its prompts checked), the track's context and the generators, built once."""

    protocol: Protocol
    context: EvalContext
    generators: list[Generator]


def resolve(request: EvaluationRequest) -> Resolved:
    """The protocol (every data-file and prompt check runs here, once), then each generator."""
    protocol, context = get_protocol(request.protocol, request.limit, data=dict(request.data))
    names = requested(request.models, request.compile) if request.models or not request.generators else []
    return Resolved(protocol, context, [*request.generators,
                                        *(resolve_generator(name, request.generator_options) for name in names)])


def evaluate_suite(request: EvaluationRequest) -> Outcome:
    """Evaluate each requested generator (default: the default suite); all inputs are checked before any generation
    starts.

    Under torchrun every rank calls this; chunks are shared, rank 0 merges, writes records and the leaderboard."""
    world = World.current()
    resolved = resolve(request)
    protocol, context = resolved.protocol, resolved.context
    for gen in resolved.generators:
        check_resolution(gen, protocol, context)
    outcome = Outcome(protocol)
    done: dict[int, tuple[Result | None, list[str]]] = {}
    for i, gen in enumerate(resolved.generators):
        result = _cached(request.results_dir, protocol, gen) if not request.force else None
        if result is not None:
            outcome.reused.append(gen.name)
            _reuse(result, records.record_path(request.results_dir, protocol.slug, gen.name), context, protocol,
                   world)
            done[i] = result, []
    done |= dict(_run_all([i for i in range(len(resolved.generators)) if i not in done], resolved, request, world))
    for i in sorted(done):  # the requested order, however the runs were spread over workers
        result, failed = done[i]
        outcome.failed += failed
        if result is not None:
            outcome.records.append(result)
    if request.leaderboard_dir is not None and outcome.records and world.is_main:
        outcome.leaderboard = store.path_for(request.leaderboard_dir, protocol)
        _publish(outcome, request.leaderboard_dir, protocol)
    return outcome


def _run_all(todo: list[int], resolved: Resolved, request: EvaluationRequest,
             world: World) -> Iterator[tuple[int, tuple[Result | None, list[str]]]]:
    """(index, (result or None, failures)) of each generator to run: in this process one after another, or in
    worker processes when this process has threads to share (`workers.run`; same records)."""
    def one(i: int, run_request: EvaluationRequest = request) -> tuple[Result | None, list[str]]:
        scratch = Outcome(resolved.protocol)
        return _run_one(resolved.generators[i], resolved, run_request, scratch, world), scratch.failed

    n_workers, threads_each = _worker_split(todo, resolved, request, world)
    if n_workers == 1:
        yield from ((i, one(i)) for i in todo)
        return
    resolved.context.build_metrics(resolved.protocol)  # loaded once here, inherited by every worker
    # Latency timed beside another worker's generation would measure the contention: the workers make and score
    # the images only, and each generator's latency is timed here afterwards, alone.
    images_only = replace(request, run=replace(request.run, latency=False))
    bar = Progress(len(todo), f"evaluate ({n_workers} processes x {threads_each} thread(s))", "model",
                   enabled=request.run.progress)
    longest_first = sorted(todo, key=lambda i: -resolved.generators[i].nfe)  # the long runs must not start last
    finished = {}
    for i, outcome in workers.run(longest_first, lambda i: one(i, images_only), n_workers, threads_each):
        bar.update(1, finished=resolved.generators[i].name)
        finished[i] = outcome
    bar.close()
    for i in todo:
        result, failed = finished[i]
        if result is not None and request.run.latency:
            result = _with_latency(result, resolved.generators[i], resolved, request)
        yield i, (result, failed)


def _with_latency(result: Result, gen: Generator, resolved: Resolved, request: EvaluationRequest) -> Result:
    """`result` with the latency of `gen` measured in this process, its record file rewritten."""
    options = runner.RunnerOptions(progress=request.run.progress, latency_rounds=request.run.latency_rounds)
    result = result.replace(latency=runner.measure_latency(gen, resolved.protocol, resolved.context, options))
    records.write_result(result, records.record_path(request.results_dir, resolved.protocol.slug, gen.name))
    return result


def _worker_split(todo: list[int], resolved: Resolved, request: EvaluationRequest, world: World) -> tuple[int, int]:
    """(worker processes, threads each): one process keeps every thread under torchrun, for a generator off the
    CPU, or where processes cannot be forked."""
    on_cpu = all(not isinstance(gen, Placed) or gen.device.type == "cpu" for gen in resolved.generators)
    if world.size > 1 or not on_cpu or not workers.can_fork() or request.run.workers == 1:
        return 1, 0
    choice = threads.current_choice()
    if request.run.workers is not None:
        n = min(request.run.workers, len(todo))
        return max(1, n), max(1, choice.threads // max(1, n))
    return threads.worker_split(len(todo), choice)


def check_resolution(generator: Generator, protocol: Protocol, context: EvalContext) -> None:
    """Before any generation: a generator that states its image size must match a protocol that does not resize."""
    if isinstance(generator, FixedResolution) and not resizes(context) \
            and generator.resolution != protocol.resolution:
        size = generator.resolution
        raise ValueError(resolution_mismatch(generator.name, (size, size), protocol.resolution))


def _publish(outcome: Outcome, leaderboard_dir: Path, protocol: Protocol) -> None:
    """New results become ranked entries; a reproduction of an entry (same generator and quality numbers within
    tolerance, e.g. on other hardware) is recorded beside the leaderboard instead."""
    for result in outcome.records:
        reason = _degenerate_reason(result)
        if reason is not None:
            outcome.failed.append(f"{result.generator['name']}: degenerate outputs ({reason}); its record is kept "
                                  f"but not published, since its numbers describe no real distribution of images")
            continue
        published = store.publish(leaderboard_dir, protocol, result.to_dict())
        outcome.added += published.added
        if published.status == "reproduced":
            device = result.latency.get("device", {}).get("name") or "unknown hardware"
            outcome.reproduced.append(f"{result.generator['name']} on {device}")


def _run_one(gen: Generator, resolved: Resolved, request: EvaluationRequest, outcome: Outcome,
             world: World) -> Result | None:
    protocol, options = resolved.protocol, request.run
    path = records.record_path(request.results_dir, protocol.slug, gen.name)
    work_dir = path.with_suffix(".work")  # finished chunks: an interrupted run resumes from here
    image_dir = path.with_suffix("") / "images" if options.save_images or options.grid else None
    if request.force and world.is_main and work_dir.exists():
        shutil.rmtree(work_dir)
    world.barrier()
    try:
        result = runner.run_checked(gen, protocol, resolved.context, runner.RunnerOptions(
            batch_size=options.batch_size, progress=options.progress, work_dir=work_dir, world=world,
            image_dir=image_dir, latency=options.latency, latency_rounds=options.latency_rounds))
    except runner.MetricFailed as exc:
        records.write_result(exc.result, path.with_suffix(".failed.json"))
        outcome.failed.append(f"{gen.name}: {exc} (details in {path.with_suffix('.failed.json')})")
        return None
    except FloatingPointError as exc:  # the generator's own check: non-finite pixels; nothing to record or publish
        outcome.failed.append(f"{gen.name}: generation failed: {exc}")
        if world.is_main and work_dir.is_dir() and not any(work_dir.iterdir()):
            work_dir.rmdir()
        return None
    if result is None:  # not rank 0
        return None
    result = result.replace(outputs=_check_outputs(result, gen, protocol, options, work_dir, world),
                            run_config=dict(request.run_config) if request.run_config else None)
    records.write_result(result, path)
    prompts = resolved.context.prompt_set.prompts
    records.write_samples(result, prompts, protocol.seeds(len(prompts)), path.with_suffix(".samples.jsonl"),
                          image_dir)
    if options.grid:
        shards.save_grid(image_dir, path.with_suffix(".grid.png"))
    shutil.rmtree(work_dir, ignore_errors=True)
    return result


def _check_outputs(result: Result, gen: Generator, protocol: Protocol, options: RunOptions, work_dir: Path,
                   world: World) -> dict[str, Any]:
    """The `outputs` check of a new result (flat or identical images), from the chunks' image summaries."""
    plan = shards.ShardPlan(result.n_images // protocol.images_per_prompt, options.batch_size, world.rank,
                            world.size)
    key = shards.run_key(protocol.fingerprint, gen.describe(), options.batch_size)
    return shards.check_outputs(plan, work_dir, key).record()


def _degenerate_reason(result: Result) -> str | None:
    """Why a result's outputs are degenerate (None: they are not, or the record predates the check)."""
    outputs = result.outputs or {}
    if not outputs.get("degenerate"):
        return None
    reasons = [f"{outputs['flat']} of {outputs['checked']} images are flat (pixel std < "
               f"{outputs['flat_std_below']:g} grey levels)"] if outputs["flat"] else []
    if outputs["checked"] > 1 and outputs["distinct"] == 1:
        reasons.append(f"all {outputs['checked']} images are identical")
    return "; ".join(reasons)


def _reuse(result: Result, path: Path, context: EvalContext, protocol: Protocol, world: World) -> None:
    """A finished record is reused: remove what an interrupted write left beside it, and write its per-sample log
    again if it is missing."""
    if not world.is_main:
        return
    shards.reclaim(path)
    samples = path.with_suffix(".samples.jsonl")
    if not samples.exists():
        prompts = context.prompt_set.prompts
        image_dir = path.with_suffix("") / "images"
        records.write_samples(result, prompts, protocol.seeds(len(prompts)), samples,
                              image_dir if image_dir.is_dir() else None)
        log.info("rewrote the missing per-sample log %s from its record", samples)


def _cached(results_dir: Path, protocol: Protocol, gen: Generator) -> Result | None:
    """The stored result at this generator's name if it is a finished result of this generator under this
    protocol, else None."""
    result = records.read_result(records.record_path(results_dir, protocol.slug, gen.name))
    return result if result is not None and _rerun_reason(result, protocol, gen) is None else None


def _rerun_reason(result: Result, protocol: Protocol, gen: Generator) -> str | None:
    """Why a stored record at this generator's name cannot stand for it (None: it can). The whole description is
    compared, not the name: it holds the sha256 of every weight file, the scheduler and the sampling settings."""
    if result.status != "ok":
        return f"the last run did not finish ({result.status})"
    if result.protocol["fingerprint"] != protocol.fingerprint:
        return "the protocol changed"
    if result.generator != gen.describe():
        changed = changed_keys(result.generator, gen.describe())
        return f"the generator changed: {', '.join(changed[:4])}{', ...' if len(changed) > 4 else ''}"
    return None


def changed_keys(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys where two descriptions differ (values left out: a file list would fill the screen)."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += changed_keys(va, vb, f"{prefix}{key}.")
        elif va != vb or (key in a) != (key in b):
            out.append(f"{prefix}{key}")
    return out


def dry_run(request: EvaluationRequest) -> dict[str, Any]:
    """The resolved protocol and generators, and the cost: images, denoiser passes, and an estimate of the time
    (`cost.estimate`: denoiser calls x the per-call cost of an earlier run, or of one image timed now)."""
    resolved = resolve(request)
    protocol = resolved.protocol
    n = len(resolved.context.prompt_set.prompts) * protocol.images_per_prompt
    plan = {"protocol": protocol.to_dict(), "fingerprint": protocol.fingerprint, "images_per_generator": n,
            "batch_size": request.run.batch_size, "generators": []}
    for gen in resolved.generators:
        previous = records.read_result(records.record_path(request.results_dir, protocol.slug, gen.name))
        reason = _rerun_reason(previous, protocol, gen) if previous is not None else None
        cached = previous is not None and reason is None
        plan["generators"].append({
            "name": gen.name, "identity": hashing.identity_digest(gen.describe()), "describe": gen.describe(),
            "denoiser_passes": n * gen.nfe, "status": "finished (reused)" if cached else "to run",
            **({"rerun_because": reason} if reason else {}),
            **({"estimated_generation_s": 0.0} if cached else cost.estimate(
                gen, protocol, resolved.context.prompt_set.prompts[0], n, request.results_dir, request.run.latency,
                request.run.latency_rounds))})
    return plan


def render_plan(plan: dict[str, Any]) -> str:
    """Human-readable dry-run summary."""
    p = plan["protocol"]
    lines = [f"protocol {p['name']} v{p['version']} ({plan['fingerprint'][:12]}): {plan['images_per_generator']} "
             f"images per generator, batch {plan['batch_size']}"]
    for g in plan["generators"]:
        lines.append(f"  {g['name']:<36} {g['status']:<18} {g['denoiser_passes']:>8} denoiser passes  "
                     + cost.render(g))
        if g.get("rerun_because"):
            lines.append(f"    (not reused: {g['rerun_because']})")
    return "\n".join(lines)
