"""`ddmd-bench evaluate`: resolve generators, reuse finished results, run the rest, publish to the leaderboard."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddmd_bench import hashing
from ddmd_bench.evaluation import records
from ddmd_bench.leaderboard import store, table
from ddmd_bench.protocol import Protocol
from ddmd_bench.protocols import get_protocol
from ddmd_bench.registry import unknown_name_message

log = logging.getLogger(__name__)

# The guidance scale shipped with the toy teacher (chosen from the sweep in docs/toy-world.md).
TOY_GUIDANCE = 3.0
# The teacher's step counts in the default suite: 25 flow-Euler steps is its reference, 4 and 1 match the students.
TOY_STEPS = (25, 4, 1)


def student_defaults(files: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each shipped student's own sampler: its step count on the DMD chain, no guidance."""
    return {k.removesuffix(".safetensors"): {"steps": len(v["student_sigmas"]), "scheduler": "flow-dmd",
                                             "guidance": 1.0}
            for k, v in files.items() if v.get("kind") == "student"}


def default_toy_suite():
    """The toy generators evaluated by default: the teacher at several step counts with and without CFG, then
    every shipped student with its own sampler."""
    from ddmd_bench.tracks.toy.generators import ToyGeneratorSpec
    from ddmd_bench.tracks.toy import shipped

    teacher = [ToyGeneratorSpec("teacher", steps, guidance) for steps in TOY_STEPS for guidance in (TOY_GUIDANCE, 1.0)]
    students = [ToyGeneratorSpec(name, **opts)
                for name, opts in student_defaults(shipped.read_manifest()["files"]).items()]
    return teacher + students


def with_compile(spec_text: str) -> str:
    """The same generator spec with torch.compile switched on."""
    if spec_text.endswith("+compile") or "compile=" in spec_text or spec_text.startswith(("method:", "pipeline:")):
        return spec_text  # recipes compile through their run settings
    if spec_text.startswith("toy-") and "/" in spec_text:
        return spec_text + "+compile"
    return spec_text + ("," if ":" in spec_text else ":") + "compile=1"


@dataclass(frozen=True, slots=True)
class RecipeOptions:
    """Options of `evaluate` for diffusers recipes (`method:NAME`, `pipeline:PATH`): overrides change the recipe
    (and its name), settings only how it runs; both are recorded."""

    overrides: Any = None  # ddmd_bench.recipes.Overrides
    settings: Any = None  # ddmd_bench.recipes.settings.RunSettings


def resolve_generator(text: str, recipe_options: RecipeOptions | None = None):
    """A generator from a suite name ('toy-teacher/euler-4/cfg3'), a toy spec ('teacher:steps=4,guidance=3'), a
    published recipe ('method:dmd2-sdxl-4step') or a local pipeline folder ('pipeline:/path/to/folder')."""
    kind, _, rest = text.partition(":")
    if kind in ("method", "pipeline"):
        return _recipe_generator(kind, rest, recipe_options or RecipeOptions())
    return _toy_generator(text)


def _recipe_generator(kind: str, target: str, options: RecipeOptions):
    from ddmd_bench.recipes import Overrides, apply_overrides, get_recipe
    from ddmd_bench.recipes.generator import DiffusersGenerator
    from ddmd_bench.recipes.generic import generic_recipe

    recipe = get_recipe(target) if kind == "method" else generic_recipe(target)
    recipe = apply_overrides(recipe, options.overrides or Overrides())
    return DiffusersGenerator(recipe, options.settings)


def _toy_generator(text: str):
    """A shipped toy model from its suite name or spec."""
    from ddmd_bench.tracks.toy.generators import ToyGenerator, ToyGeneratorSpec
    from ddmd_bench.tracks.toy import shipped

    files = shipped.read_manifest()["files"]
    shipped_models = [k.removesuffix(".safetensors") for k, v in files.items()
                      if v.get("kind") in ("teacher", "student")]
    spec = ToyGeneratorSpec.parse(text, student_defaults(files))
    if spec.model not in shipped_models:
        suite = [s.name for s in default_toy_suite()]
        raise ValueError(unknown_name_message("model", text, suite + shipped_models))
    return ToyGenerator(spec)


@dataclass
class Outcome:
    """What one `evaluate` invocation did."""

    protocol: Protocol
    records: list[dict[str, Any]] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    leaderboard: Path | None = None
    added: int = 0
    reproduced: list[str] = field(default_factory=list)  # "<generator> on <hardware>", recorded in the sidecar

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (per-sample scores left out; they are in the record files)."""
        return {"protocol": {"name": self.protocol.name, "version": self.protocol.version,
                             "fingerprint": self.protocol.fingerprint},
                "results": [table.row(r) for r in self.records], "reused": self.reused, "failed": self.failed,
                "leaderboard": str(self.leaderboard) if self.leaderboard else None, "added": self.added,
                "reproduced": self.reproduced}

    def table(self) -> str:
        """Human-readable table of this invocation's results."""
        return table.render_text([table.row(r) for r in self.records], None)

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


def evaluate_suite(protocol_name: str, models: list[str], limit: int | None, batch_size: int, results_dir: Path,
                   leaderboard_dir: Path | None, force: bool, progress: bool = True,
                   options: RunOptions | None = None, recipe_options: RecipeOptions | None = None,
                   data: dict[str, Path] | None = None) -> Outcome:
    """Evaluate each model (default: the toy suite); all inputs are checked before any generation starts.

    Under torchrun every rank calls this; chunks are shared, rank 0 merges, writes records and the leaderboard."""
    from ddmd_bench.evaluation.resize import check_generator  # torch: not needed by listings (`methods list`)
    from ddmd_bench.utils.distributed import World

    options = options or RunOptions(batch_size, progress)
    world = World.current()
    protocol, context = get_protocol(protocol_name, limit, data=data)
    generators = [resolve_generator(m, recipe_options) for m in models] if models else \
        [resolve_generator(s.name) for s in default_toy_suite()]
    for gen in generators:
        check_generator(gen, protocol, context)
    outcome = Outcome(protocol)
    for gen in generators:
        record = _cached(results_dir, protocol, gen) if not force else None
        if record is not None:
            outcome.reused.append(gen.name)
            _reuse(record, records.record_path(results_dir, protocol.slug, gen.name), context, protocol, world)
        else:
            record = _run_one(gen, protocol, context, options, results_dir, outcome, world, force)
            if record is None:
                continue
        outcome.records.append(record)
    if leaderboard_dir is not None and outcome.records and world.is_main:
        outcome.leaderboard = store.path_for(leaderboard_dir, protocol)
        _publish(outcome, leaderboard_dir, protocol)
    return outcome


def _publish(outcome: Outcome, leaderboard_dir: Path, protocol: Protocol) -> None:
    """New results become ranked entries; a reproduction of an entry (same generator and quality numbers within
    tolerance, e.g. on other hardware) is recorded beside the leaderboard instead."""
    for record in outcome.records:
        reason = _degenerate_reason(record)
        if reason is not None:
            outcome.failed.append(f"{record['generator']['name']}: degenerate outputs ({reason}); its record is kept "
                                  f"but not published, since its numbers describe no real distribution of images")
            continue
        published = store.publish(leaderboard_dir, protocol, record)
        outcome.added += published.added
        if published.status == "reproduced":
            device = (record.get("latency") or {}).get("device", {}).get("name") or "unknown hardware"
            outcome.reproduced.append(f"{record['generator']['name']} on {device}")


def _run_one(gen, protocol, context, options: RunOptions, results_dir, outcome, world, force) -> dict | None:
    from ddmd_bench.evaluation import runner  # torch and the metric backends: only when something is generated

    path = records.record_path(results_dir, protocol.slug, gen.name)
    work_dir = path.with_suffix(".work")  # finished chunks: an interrupted run resumes from here
    image_dir = path.with_suffix("") / "images" if options.save_images or options.grid else None
    if force and world.is_main and work_dir.exists():
        shutil.rmtree(work_dir)
    world.barrier()
    try:
        record = runner.run(gen, protocol, context, batch_size=options.batch_size, progress=options.progress,
                            work_dir=work_dir, world=world, image_dir=image_dir)
    except runner.MetricFailed as exc:
        records.write_record(exc.record, path.with_suffix(".failed.json"))
        outcome.failed.append(f"{gen.name}: {exc} (details in {path.with_suffix('.failed.json')})")
        return None
    except FloatingPointError as exc:  # the generator's own check: non-finite pixels; nothing to record or publish
        outcome.failed.append(f"{gen.name}: generation failed: {exc}")
        if world.is_main and work_dir.is_dir() and not any(work_dir.iterdir()):
            work_dir.rmdir()
        return None
    if record is None:  # not rank 0
        return None
    _check_outputs(record, gen, protocol, options, work_dir, world)
    records.write_record(record, path)
    prompts = context.prompt_set.prompts
    records.write_samples(record, prompts, protocol.seeds(len(prompts)), path.with_suffix(".samples.jsonl"),
                          image_dir if options.save_images or options.grid else None)
    if options.grid:
        from ddmd_bench.evaluation.shards import save_grid

        save_grid(image_dir, path.with_suffix(".grid.png"))
    shutil.rmtree(work_dir, ignore_errors=True)
    return record


def _check_outputs(record: dict, gen, protocol: Protocol, options: RunOptions, work_dir: Path, world) -> None:
    """Add the `outputs` check (flat or identical images) to a new record, from the chunks' image summaries."""
    from ddmd_bench.evaluation import shards

    plan = shards.ShardPlan(record["n_images"] // protocol.images_per_prompt, options.batch_size, world.rank,
                            world.size)
    key = shards.run_key(protocol.fingerprint, gen.describe(), options.batch_size)
    record["outputs"] = shards.check_outputs(plan, work_dir, key).record()


def _degenerate_reason(record: dict) -> str | None:
    """Why a record's outputs are degenerate (None: they are not, or the record predates the check)."""
    outputs = record.get("outputs") or {}
    if not outputs.get("degenerate"):
        return None
    reasons = [f"{outputs['flat']} of {outputs['checked']} images are flat (pixel std < "
               f"{outputs['flat_std_below']:g} grey levels)"] if outputs["flat"] else []
    if outputs["checked"] > 1 and outputs["distinct"] == 1:
        reasons.append(f"all {outputs['checked']} images are identical")
    return "; ".join(reasons)


def _reuse(record: dict, path: Path, context, protocol: Protocol, world) -> None:
    """A finished record is reused: remove what an interrupted write left beside it, and write its per-sample log
    again if it is missing."""
    from ddmd_bench.evaluation import shards

    if not world.is_main:
        return
    shards.reclaim(path)
    samples = path.with_suffix(".samples.jsonl")
    if not samples.exists():
        prompts = context.prompt_set.prompts
        image_dir = path.with_suffix("") / "images"
        records.write_samples(record, prompts, protocol.seeds(len(prompts)), samples,
                              image_dir if image_dir.is_dir() else None)
        log.info("rewrote the missing per-sample log %s from its record", samples)


def _cached(results_dir: Path, protocol: Protocol, gen) -> dict | None:
    return _reusable(records.read_record(records.record_path(results_dir, protocol.slug, gen.name)), protocol, gen)


def _reusable(record: dict | None, protocol: Protocol, gen) -> dict | None:
    """`record` if it is a finished result of this generator under this protocol, else None."""
    return record if record is not None and _rerun_reason(record, protocol, gen) is None else None


def _rerun_reason(record: dict, protocol: Protocol, gen) -> str | None:
    """Why a stored record at this generator's name cannot stand for it (None: it can). The whole description is
    compared, not the name: it holds the sha256 of every weight file, the scheduler and the sampling settings."""
    if record.get("status") != "ok":
        return f"the last run did not finish ({record.get('status')})"
    if record["protocol"]["fingerprint"] != protocol.fingerprint:
        return "the protocol changed"
    if record["generator"] != gen.describe():
        changed = changed_keys(record["generator"], gen.describe())
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


def dry_run(protocol_name: str, models: list[str], limit: int | None, batch_size: int,
            results_dir: Path, recipe_options: RecipeOptions | None = None,
            data: dict[str, Path] | None = None) -> dict[str, Any]:
    """The resolved protocol and generators, and the cost: images, denoiser passes, and an estimate of the time
    from the last finished record of each generator (when one exists)."""
    protocol, context = get_protocol(protocol_name, limit, data=data)
    generators = [resolve_generator(m, recipe_options) for m in models] if models else \
        [resolve_generator(s.name) for s in default_toy_suite()]
    n = len(context.prompt_set.prompts) * protocol.images_per_prompt
    plan = {"protocol": protocol.to_dict(), "fingerprint": protocol.fingerprint, "images_per_generator": n,
            "batch_size": batch_size, "generators": []}
    for gen in generators:
        previous = records.read_record(records.record_path(results_dir, protocol.slug, gen.name))
        reason = _rerun_reason(previous, protocol, gen) if previous is not None else None
        cached = previous is not None and reason is None
        rate = (previous or {}).get("timings", {}).get("images_per_s")
        plan["generators"].append({
            "name": gen.name, "identity": hashing.identity_digest(gen.describe()), "describe": gen.describe(),
            "denoiser_passes": n * gen.nfe, "status": "finished (reused)" if cached else "to run",
            **({"rerun_because": reason} if reason else {}),
            "estimated_generation_s": round(n / rate, 1) if rate and not cached else (0.0 if cached else None)})
    return plan


def render_plan(plan: dict[str, Any]) -> str:
    """Human-readable dry-run summary."""
    p = plan["protocol"]
    lines = [f"protocol {p['name']} v{p['version']} ({plan['fingerprint'][:12]}): {plan['images_per_generator']} "
             f"images per generator, batch {plan['batch_size']}"]
    for g in plan["generators"]:
        est = g["estimated_generation_s"]
        lines.append(f"  {g['name']:<36} {g['status']:<18} {g['denoiser_passes']:>8} denoiser passes  "
                     + (f"~{est:.0f} s" if est is not None else "no earlier run to estimate from"))
        if g.get("rerun_because"):
            lines.append(f"    (not reused: {g['rerun_because']})")
    return "\n".join(lines)
