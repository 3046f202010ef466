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
from ddmd_bench.generators.base import FixedResolution, Generator, Placed, Traced
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
    for i, result in reusable(request, protocol, resolved.generators, world).items():
        gen = resolved.generators[i]
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
    worker processes when this process has threads to share (`_in_workers`; same records)."""
    n_workers, threads_each = _worker_split(todo, resolved, request, world)
    if n_workers == 1:
        for i in todo:
            scratch = Outcome(resolved.protocol)
            yield i, (_run_one(resolved.generators[i], resolved, request, scratch, world), scratch.failed)
        return
    finished = _in_workers(todo, resolved, request, n_workers, threads_each)
    for i in todo:
        result, failed = finished[i]
        if result is not None and request.run.latency:
            result = _with_latency(result, resolved.generators[i], resolved, request)
        yield i, (result, failed)


@dataclass(frozen=True, slots=True)
class _Job:
    """One piece of work for a worker process: a chunk of a run's prompts (`chunk` set), or a whole run."""

    row: int  # index of the generator
    chunk: int | None  # None: the whole run (generate, merge, compute, record)
    cost: int  # denoiser image passes, to hand out the longest jobs first


def _in_workers(todo: list[int], resolved: Resolved, request: EvaluationRequest, n_workers: int,
                threads_each: int) -> dict[int, tuple[Result | None, list[str]]]:
    """Each generator's (result or None, failures), made in forked worker processes in two passes: first every
    chunk of every run (a slow run's chunks spread over all workers instead of keeping one worker busy alone),
    then each run merges its finished chunks, computes its metrics and writes its record, exactly as a run in this
    process would (`runner.generate_chunk`). Generators that record a trace of their last call run whole."""
    protocol, context = resolved.protocol, resolved.context
    metrics = context.build_metrics(protocol)  # loaded once here, inherited by every worker
    runner.check_before_generation(protocol, context, metrics)
    # Latency timed beside another worker's generation would measure the contention: the workers make and score
    # the images only, and each generator's latency is timed here afterwards, alone.
    images_only = replace(request, run=replace(request.run, latency=False))
    merged = replace(images_only, force=False)  # the second pass must keep the chunks the first one made
    n_prompts = len(context.prompt_set.prompts)
    split = [i for i in todo if not isinstance(resolved.generators[i], Traced)]
    jobs = [_Job(i, None, resolved.generators[i].nfe * n_prompts) for i in todo if i not in split]
    for i in split:
        gen = resolved.generators[i]
        if request.force:
            shutil.rmtree(_paths(gen, protocol, request)[1], ignore_errors=True)
        chunks = shards.ShardPlan(n_prompts, request.run.batch_size).chunks
        jobs += [_Job(i, c, gen.nfe * (b - a)) for c, (a, b) in enumerate(chunks)]
    jobs.sort(key=lambda job: -job.cost)  # the long jobs must not start last

    def run_job(k: int) -> Any:
        job = jobs[k]
        if job.chunk is None:
            return _run_scratch(job.row, resolved, images_only)
        gen = resolved.generators[job.row]
        _, work_dir, image_dir = _paths(gen, protocol, request)
        try:
            return runner.generate_chunk(gen, protocol, context, metrics, job.chunk, runner.RunnerOptions(
                batch_size=request.run.batch_size, progress=False, work_dir=work_dir, image_dir=image_dir))
        except FloatingPointError:  # the run's own pass makes this chunk again and records the failure
            return None

    bar = Progress(len(jobs) + len(split), f"evaluate ({n_workers} processes x {threads_each} thread(s))", "job",
                   enabled=request.run.progress)
    finished: dict[int, tuple[Result | None, list[str]]] = {}
    resized: dict[int, dict[str, Any]] = {}
    for k, out in workers.run(range(len(jobs)), run_job, n_workers, threads_each):
        job = jobs[k]
        bar.update(1, finished=f"{resolved.generators[job.row].name}"
                               + (f" chunk {job.chunk}" if job.chunk is not None else ""))
        if job.chunk is None:
            finished[job.row] = out
        elif out is not None:
            resized[job.row] = out
    for i, out in workers.run(split, lambda i: _run_scratch(i, resolved, merged, resized.get(i)), n_workers,
                              threads_each):
        bar.update(1, finished=resolved.generators[i].name)
        finished[i] = out
    bar.close()
    return finished


def _run_scratch(i: int, resolved: Resolved, request: EvaluationRequest,
                 resize: dict[str, Any] | None = None) -> tuple[Result | None, list[str]]:
    """(result or None, failures) of generator `i` run alone (`_run_one`, in this process, world of one)."""
    scratch = Outcome(resolved.protocol)
    return _run_one(resolved.generators[i], resolved, request, scratch, World(), resize), scratch.failed


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


def _paths(gen: Generator, protocol: Protocol, request: EvaluationRequest) -> tuple[Path, Path, Path | None]:
    """(record file, folder of finished chunks, folder of saved images or None) of a generator's run."""
    path = records.record_path(request.results_dir, protocol.slug, gen.name)
    saves = request.run.save_images or request.run.grid
    # the work folder keeps finished chunks: an interrupted run resumes from there
    return path, path.with_suffix(".work"), path.with_suffix("") / "images" if saves else None


def _run_one(gen: Generator, resolved: Resolved, request: EvaluationRequest, outcome: Outcome,
             world: World, resize: dict[str, Any] | None = None) -> Result | None:
    """Run `gen` (its chunks finished by an earlier or a parallel pass are merged, not made again). `resize`: the
    record's resize field as the processes that made its chunks saw it, when none is made here."""
    protocol, options = resolved.protocol, request.run
    path, work_dir, image_dir = _paths(gen, protocol, request)
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
                            run_config=dict(request.run_config) if request.run_config else None,
                            resize=result.resize or resize)
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


def reusable(request: EvaluationRequest, protocol: Protocol, generators: list[Generator],
             world: World) -> dict[int, Result | None]:
    """{index: finished record} of the generators whose stored record can stand for them, as rank 0 finds them;
    the other ranks get rank 0's indices, with None for the record (only rank 0 writes and reports). Rank 0 decides
    alone: on storage local to each node the ranks can see different files, and ranks that disagreed would run
    different chunks and wait for each other's collectives forever."""
    if request.force or not generators:
        return {}
    found = {i: _cached(request.results_dir, protocol, gen) for i, gen in enumerate(generators)} \
        if world.is_main else {}
    flags = world.gather([float(found.get(i) is not None) for i in range(len(generators))])[0]
    return {i: found.get(i) for i, flag in enumerate(flags) if flag}


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
