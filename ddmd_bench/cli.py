"""The `ddmd-bench` command line: thin click commands that parse options and call the library.

Each command imports the library code it calls inside its own body: `--help` and the listing commands then load
only what they run, never a model backend such as diffusers (tests/unit/test_fast_commands.py checks this).
"""

from __future__ import annotations

import difflib
import json
import logging
import shlex
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

import click
from click.core import ParameterSource

from ddmd_bench import __version__
from ddmd_bench.registry import UnknownNameError, unknown_name_message

# function-level imports: each command imports the library code it runs, so `--help` and listings stay fast

log = logging.getLogger("ddmd_bench")


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


# Errors that describe the user's input (a file, a name, a value) and whose message says what is wrong with it.
INPUT_ERRORS = (ValueError, KeyError, OSError, RuntimeError, ArithmeticError)


def failure_message(exc: BaseException) -> str:
    """One line for an error that reached the command line: the library's own message for input errors, and for
    anything else the error's type too, with where to get the traceback."""
    if isinstance(exc, INPUT_ERRORS) and str(exc):
        return str(exc)
    return (f"unexpected {type(exc).__name__}: {exc}. Re-run with `ddmd-bench --debug ...` for the traceback and "
            f"report it with the command line")


class _Main(click.Group):
    """The command group. No error ends in a traceback (exit code 1 and one message) unless --debug is given."""

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if debug and exc.__cause__ is not None:
                click.echo("".join(traceback.format_exception(exc.__cause__)), err=True)
            raise
        except (click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug:
                raise
            raise click.ClickException(failure_message(exc)) from exc


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="ddmd-bench")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
@click.option("--debug", is_flag=True, help="On an error, show the full traceback (for bug reports).")
@click.option("--threads", "cpu_threads", type=click.IntRange(min=1), default=None,
              help="CPU threads per process (default: available cores / local processes).")
def main(verbose: bool, debug: bool, cpu_threads: int | None) -> None:
    """Evaluate distilled diffusion generators, keep comparable leaderboards, train reference baselines.

    \b
    Examples:
      ddmd-bench evaluate                      # every shipped toy model on the toy protocol
      ddmd-bench evaluate --model toy-teacher/euler-4/cfg3 --json
      ddmd-bench leaderboard show leaderboards/toy-v3.jsonl --sort fid
      ddmd-bench train teacher --track toy     # retrain the shipped toy teacher
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    from ddmd_bench.utils import threads

    threads.configure(cpu_threads)  # before torch loads: OpenMP reads its thread count once


# ---------------------------------------------------------------------------------------------------- evaluate

class _PromptFormat(click.Choice):
    """The prompt formats as choices, read when an option is parsed or its help shown, so that importing the
    command line does not load the prompt readers (and numpy)."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> list[str]:
        from ddmd_bench.prompts import FORMATS  # numpy: only when --format is parsed or shown

        return FORMATS.names()


@main.command()
@click.option("--protocol", "protocol_name", default="toy", show_default=True, metavar="NAME",
              help="Evaluation protocol (see `ddmd-bench prompts list`).")
@click.option("--model", "models", multiple=True, metavar="SPEC",
              help="Generator to evaluate, repeatable: a suite name from `ddmd-bench methods list` or "
                   "'teacher:steps=8,guidance=3'. Default: every shipped toy model.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the first N prompts (a different protocol, with its own leaderboard file).")
@click.option("--batch-size", type=click.IntRange(min=1), default=96, show_default=True, help="Images per batch.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Where result records are written (and reused from).")
@click.option("--leaderboard-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboards"),
              show_default=True, help="Where the protocol's leaderboard file lives.")
@click.option("--force", is_flag=True, help="Recompute even if a matching result record exists.")
@click.option("--no-leaderboard", is_flag=True, help="Write result records only.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--save-images", is_flag=True, help="Also save every image as PNG next to the record.")
@click.option("--grid", is_flag=True, help="Save an 8x8 grid of the first 64 images (<record>.grid.png).")
@click.option("--dry-run", is_flag=True, help="Print the resolved protocol, generators and cost; run nothing.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile each generator's denoiser (recorded).")
@click.option("--method", "methods", multiple=True, metavar="NAME",
              help="A published method's recipe, repeatable (see `ddmd-bench methods list`).")
@click.option("--pipeline", "pipelines", multiple=True, metavar="PATH",
              type=click.Path(exists=True, file_okay=False),
              help="A local diffusers pipeline folder, run with its own scheduler and defaults (our exported "
                   "students included), repeatable.")
@click.option("--steps", type=click.IntRange(min=1), help="Recipe override: inference steps.")
@click.option("--guidance", type=float, help="Recipe override: guidance scale.")
@click.option("--scheduler", metavar="CLS[:k=v,...]", help="Recipe override: diffusers scheduler class and config, "
              "e.g. 'EulerDiscreteScheduler:timestep_spacing=trailing'.")
@click.option("--resolution", type=click.IntRange(min=8), help="Recipe override: generated height and width.")
@click.option("--eta", type=float, help="Recipe override: DDIM eta / TCD gamma.")
@click.option("--dtype", type=click.Choice(["float16", "bfloat16", "float32"]),
              help="Recipe dtype (default: the recipe's on GPU, float32 on CPU).")
@click.option("--offload", type=click.Choice(["none", "model", "sequential"]), default="none", show_default=True,
              help="diffusers CPU offload for recipes.")
@click.option("--vae-tiling", is_flag=True, help="Decode recipes' latents in tiles.")
@click.option("--vae-slicing", is_flag=True, help="Decode recipes' latents one image at a time.")
@click.option("--attention-backend", metavar="NAME", help="diffusers attention backend for recipes, e.g. flash.")
@click.option("--data", "data_files", multiple=True, metavar="KEY=PATH",
              help="A data file the protocol needs (captions, reference statistics), repeatable; "
                   "`ddmd-bench prompts list` shows each protocol's keys. Known sha256 hashes are verified.")
@click.option("--allow-pickle", is_flag=True,
              help="Allow pickle checkpoints (read with torch.load(weights_only=True)); refused by default.")
@click.option("--prompts", "prompts_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="FILE", help="Evaluate on your own prompt file instead of --protocol: a reference-free protocol "
              "named by the file's sha256 (CLIP score, ImageReward; FID with --data reference_stats=PATH), with its "
              "own leaderboard file. Generated at --resolution, else the recipe's, else 1024 px.")
@click.option("--format", "prompts_format", type=_PromptFormat(), default=None,
              help="Format of the --prompts file (default: from its suffix).")
@click.option("--geneval-out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="With a GenEval protocol (--protocol geneval or geneval-512): also write the images in "
                   "GenEval's folder layout with its metadata, for GenEval's own object-detector scorer (one "
                   "sub-folder per generator when several run). Implies --save-images.")
def evaluate(protocol_name, models, limit, batch_size, results_dir, leaderboard_dir, force, no_leaderboard,
             as_json, quiet, save_images, grid, dry_run, compile_, methods, pipelines, steps, guidance, scheduler,
             resolution, eta, dtype, offload, vae_tiling, vae_slicing, attention_backend, data_files,
             allow_pickle, prompts_file, prompts_format, geneval_out) -> None:
    """Generate images for a protocol's prompts and score them (FID, CLIP score, prompt accuracy, latency).

    With no arguments, evaluates every shipped toy model on the toy protocol, prints a table, writes one result
    record per model under results/ and adds the results to leaderboards/toy-v3.jsonl. A re-run that reproduces
    an entry (same generator identity, quality numbers within the tolerance of docs/leaderboard.md) is recorded in
    the untracked leaderboards/toy-v3.reproductions.jsonl instead. Re-running reuses finished results.

    \b
    Examples:
      ddmd-bench evaluate
      ddmd-bench evaluate --model teacher:steps=2,guidance=3 --limit 40 --json
      ddmd-bench evaluate --model ddmd-4step --grid          # a shipped student, with an image grid
      ddmd-bench evaluate --dry-run                          # what would run, and what it costs
      ddmd-bench evaluate --protocol coco10k-512-patch --method dmd2-sdxl-4step --data captions=coco10k.txt
      ddmd-bench evaluate --pipeline runs/my-student/pipeline --limit 64   # any local diffusers folder
      ddmd-bench evaluate --method dmd2-sdxl-4step --prompts my_prompts.txt     # your own prompts
      ddmd-bench evaluate --method dmd2-sdxl-4step --protocol geneval --data prompts=evaluation_metadata.jsonl \\
          --geneval-out geneval-images/                      # then run GenEval's scorer on geneval-images/
      torchrun --nproc-per-node 2 -m ddmd_bench.cli evaluate # shard over processes; same result

    An interrupted run resumes from its finished chunks (results/<protocol>/<model>.work/). Each finished run also
    writes <model>.samples.jsonl: prompt, seed and every per-sample score.
    """
    from ddmd_bench.evaluation import suite
    from ddmd_bench.generators.resolve import GeneratorOptions
    from ddmd_bench.generators.settings import RunSettings
    from ddmd_bench.recipes import Overrides

    data = _parse_data(data_files)
    try:  # every override is checked here, before a protocol, a model or a pipeline is built
        overrides = Overrides(steps, guidance, scheduler, resolution, eta)
    except ValueError as exc:
        raise _fail(exc) from exc
    if prompts_file is not None:
        if click.get_current_context().get_parameter_source("protocol_name") is ParameterSource.COMMANDLINE:
            raise click.UsageError("give either --protocol or --prompts (a prompt file is its own protocol)")
        try:
            size = resolution or _recipes_resolution(methods)
            protocol_name = _prompt_file_protocol(prompts_file, prompts_format, size)
        except (UnknownNameError, ValueError, OSError) as exc:
            raise _fail(exc) from exc
    elif prompts_format is not None:
        raise click.UsageError("--format describes a --prompts file; give the file too")
    layout_context = _geneval_context(protocol_name, limit, data) if geneval_out is not None else None
    request = suite.EvaluationRequest(
        protocol=protocol_name, models=(*models, *(f"method:{m}" for m in methods),
                                        *(f"pipeline:{p}" for p in pipelines)),
        limit=limit, data=data, results_dir=results_dir,
        leaderboard_dir=None if no_leaderboard else leaderboard_dir, force=force, compile=compile_,
        generator_options=GeneratorOptions(overrides, RunSettings(
            dtype=dtype, offload=offload, vae_tiling=vae_tiling, vae_slicing=vae_slicing,
            attention_backend=attention_backend, compile=compile_, allow_pickle=allow_pickle)),
        run=suite.RunOptions(batch_size, not quiet, save_images or geneval_out is not None, grid))
    if dry_run:
        download = None
        if methods:  # what the recipes and the metrics need from the hub, listed whether or not the run can start
            try:
                download = _recipes_download_plan(request, methods, overrides)
            except (UnknownNameError, ValueError, OSError, RuntimeError) as exc:
                raise _fail(exc) from exc
        try:
            plan = suite.dry_run(request)
        except (UnknownNameError, ValueError, OSError, RuntimeError) as exc:
            if download is None or download.complete:
                raise _fail(exc) from exc
            # a recipe that lacks files cannot be resolved: the download plan is the dry run's answer
            click.echo(json.dumps({"download_plan": download.to_dict()}, indent=1) if as_json
                       else download.report())
            return
        if as_json:
            click.echo(json.dumps({**plan, **({"download_plan": download.to_dict()} if download else {})}, indent=1))
        else:
            click.echo(suite.render_plan(plan))
            if download is not None and not download.complete:
                click.echo(download.report())
        return
    try:
        outcome = suite.evaluate_suite(request)
    except (UnknownNameError, ValueError, OSError, RuntimeError) as exc:
        raise _fail(exc) from exc
    from ddmd_bench.utils.distributed import World  # torch: loaded by the evaluation already

    if not World.current().is_main:  # under torchrun rank 0 holds the records and reports; the others stay quiet
        return
    if layout_context is not None:
        _write_geneval_layouts(layout_context, outcome, results_dir, geneval_out)
    if as_json:
        click.echo(json.dumps(outcome.summary(), indent=1))
    else:
        click.echo(outcome.table())
        click.echo(outcome.footer())
    if outcome.failed:
        raise click.ClickException(f"{len(outcome.failed)} run(s) failed: " + "; ".join(outcome.failed))


def _recipes_resolution(methods) -> int | None:
    """The resolution the named recipes generate at (they must agree; --resolution decides otherwise)."""
    from ddmd_bench.recipes import get_recipe

    sizes = {get_recipe(m).resolution for m in methods}
    if len(sizes) > 1:
        raise click.UsageError(f"the recipes generate at {sorted(sizes)} px; say which resolution the --prompts "
                               f"protocol uses with --resolution")
    return sizes.pop() if sizes else None


def _prompt_file_protocol(path: Path, fmt: str | None, resolution: int | None) -> str:
    """Register the protocol of a user's prompt file under a name `get_protocol` resolves, so that the file's
    protocol runs like any catalogued one; returns that name."""
    # the literature track builds prompt-file protocols; the command line is the layer that may import a track
    from ddmd_bench.protocols import PROTOCOLS
    from ddmd_bench.tracks.literature import prompt_sets

    size = resolution or prompt_sets.RESOLUTIONS[0]
    prompt_sets.file_spec(path, fmt)  # an unreadable file or an unknown format fails here, before anything else
    name = f"prompt-file:{path.resolve()}:{fmt or ''}:{size}"
    if name not in PROTOCOLS:

        def factory(limit=None, data=None):
            return prompt_sets.prompt_file_protocol(path, fmt, limit=limit, data=data, resolution=size)

        PROTOCOLS.add(name, factory)
    return name


def _geneval_context(protocol_name: str, limit: int | None, data: dict[str, Path]):
    """The protocol's context when it writes GenEval's layout; refuses --geneval-out for any other protocol."""
    # the literature track owns GenEval's layout; the command line is the layer that may import a track
    from ddmd_bench.protocols import get_protocol
    from ddmd_bench.tracks.literature.prompt_sets import PromptSetContext

    try:
        _, context = get_protocol(protocol_name, limit, data=dict(data))
    except (UnknownNameError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    if not (isinstance(context, PromptSetContext) and context.spec.layout == "geneval"):
        raise click.UsageError("--geneval-out needs a GenEval protocol (--protocol geneval or geneval-512)")
    return context


def _write_geneval_layouts(context, outcome, results_dir: Path, out: Path) -> None:
    """GenEval's layout of each finished run's saved images: in `out`, or `out/<generator>` when several ran."""
    from ddmd_bench.evaluation import records

    for result in outcome.records:
        name = result.generator["name"]
        path = records.record_path(results_dir, outcome.protocol.slug, name)
        target = out if len(outcome.records) == 1 else out / path.stem
        try:
            folders = context.write_layout(path.with_suffix("") / "images", target)
        except (ValueError, OSError) as exc:
            raise _fail(exc) from exc
        click.echo(f"{name}: GenEval layout of {len(folders)} prompts in {target}", err=True)


def _recipes_download_plan(request, methods, overrides):
    """What the named recipes (after the overrides) and the protocol's metrics need from the hub, checked against
    the HF cache without the network."""
    from ddmd_bench import resolver
    from ddmd_bench.protocols import LoadsWeights, get_protocol
    from ddmd_bench.recipes import apply_overrides, get_recipe

    _, context = get_protocol(request.protocol, request.limit, data=dict(request.data))
    needs = [need for m in methods for need in resolver.recipe_needs(apply_overrides(get_recipe(m), overrides))]
    if isinstance(context, LoadsWeights):
        needs += resolver.weights_needs(context.weight_names())
    return resolver.download_plan(needs)


def _parse_data(items) -> dict[str, Path]:
    data = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{item!r}: expected KEY=PATH, e.g. captions=captions_coco14_test.txt",
                                     param_hint="--data")
        data[key] = Path(value)
    return data


# ---------------------------------------------------------------------------------------------------- train

class _TrainGroup(click.Group):
    """`train` subcommands are the toy track's own models plus every distillation preset (presets.py)."""

    def list_commands(self, ctx):
        from ddmd_bench.tracks.toy.presets import DISTILL_PRESETS

        return super().list_commands(ctx) + DISTILL_PRESETS.names()

    def get_command(self, ctx, name):
        from ddmd_bench.tracks.toy.presets import DISTILL_PRESETS

        command = super().get_command(ctx, name)
        if command is None and name in DISTILL_PRESETS:
            return _preset_command(name)
        return command

    def resolve_command(self, ctx, args):
        if args and self.get_command(ctx, args[0]) is None and not args[0].startswith("-"):
            raise click.UsageError(unknown_name_message("training preset or model", args[0],
                                                        self.list_commands(ctx)))
        return super().resolve_command(ctx, args)


@main.group(cls=_TrainGroup)
def train() -> None:
    """Train models: distillation presets (Decoupled DMD, DMD2, ablations) and the toy track's own models.

    \b
    Examples:
      ddmd-bench train toy-ddmd-4step                       # Decoupled DMD, 4-step toy student
      ddmd-bench train toy-dmd-4step --set loss.guidance=2  # DMD2 baseline with another CFG scale
      ddmd-bench train toy-ddmd-4step --ship                # add the student to the default leaderboard
      ddmd-bench train teacher --track toy --out runs/toy-teacher --ship
    Re-running the same command resumes from the last checkpoint in --out.
    """


def _preset_command(preset: str) -> click.Command:
    from ddmd_bench.tracks.toy.presets import get_preset

    cfg = get_preset(preset)

    @click.command(name=preset, help=f"Distil with preset {preset}: schedule {cfg.loss.schedule}, "
                   f"normalisation {cfg.loss.normalization}, terms {cfg.loss.terms}, guidance {cfg.loss.guidance:g}, "
                   f"{cfg.student_steps}-step student, {cfg.steps} updates.")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Run folder (default runs/<preset>). Re-running the same command resumes.")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override a config field, e.g. --set loss.guidance=2 --set lora_rank=0 --set steps=100.")
    @click.option("--prompts", type=click.Path(exists=True, dir_okay=False), default=None,
                  help="Training prompts file (diffusers teachers; the toy track uses its world's captions).")
    @click.option("--ship", is_flag=True, help="Copy the EMA student into the package (toy presets).")
    @click.option("--ship-last-good", is_flag=True,
                  help="If the run diverges, ship the last good checkpoint (the divergence is recorded).")
    @click.option("--force", is_flag=True,
                  help="With --ship: replace a student that is already shipped (and its manifest entry).")
    @click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads.")
    @click.option("--parallel", type=click.Choice(["ddp", "fsdp"]), default="ddp", show_default=True,
                  help="Under torchrun: replicate the models (DDP) or shard them (FSDP, for models that do not fit "
                       "on one GPU). Same update either way.")
    def command(out, overrides, prompts, ship, ship_last_good, force, threads, parallel):
        import torch  # heavy backend: only when training runs

        from ddmd_bench.tracks.toy.distill import run_preset
        from ddmd_bench.training.run import parse_overrides

        if threads:
            torch.set_num_threads(threads)
        logging.getLogger("ddmd_bench").setLevel(logging.INFO)
        try:
            info = run_preset(preset, out or Path("runs") / preset, parse_overrides(overrides), prompts, ship,
                              "ddmd-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:]), ship_last_good,
                              parallel, force=force)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(json.dumps(info, indent=1, default=str))

    return command


def _train_command(name: str, help_text: str):
    @train.command(name=name, help=help_text)
    @click.option("--track", type=click.Choice(["toy"]), default="toy", show_default=True, help="Which track.")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Run folder (default runs/toy-<name>). Re-running the same command resumes.")
    @click.option("--steps", type=click.IntRange(min=1), default=None, help="Override the number of steps.")
    @click.option("--ship", is_flag=True, help="Copy the result into the package and update the weights manifest.")
    @click.option("--force", is_flag=True, help="With --ship: replace the shipped model (and its manifest entry).")
    @click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads.")
    def command(track, out, steps, ship, force, threads):
        import torch  # heavy backend: only when training runs

        from ddmd_bench.tracks.toy.model_training import TRAINERS

        if threads:
            torch.set_num_threads(threads)
        logging.getLogger("ddmd_bench").setLevel(logging.INFO)
        try:
            info = TRAINERS[name](out or Path("runs") / f"toy-{name}", steps, ship, force=force)
        except ValueError as exc:  # a refused --ship (the file exists and --force is not given)
            raise click.ClickException(str(exc)) from exc
        click.echo(json.dumps(info, indent=1, default=str))

    return command


_train_command("teacher", "Train the toy teacher (flow-matching SD3-style transformer, ~50 CPU-minutes).")
_train_command("classifier", "Train the toy attribute classifier (prompt accuracy, toy FID features).")
_train_command("clip", "Train the toy CLIP model (open_clip custom config) for the toy CLIP score.")
_train_command("reward", "Train the toy reward model (ImageReward architecture) on synthetic preferences.")


# ---------------------------------------------------------------------------------------------------- ablation

@main.group()
def ablation() -> None:
    """The Decoupled DMD ablation on the toy track: every arm x several paired seeds, scored with the toy protocol.

    \b
    Examples:
      ddmd-bench --threads 1 ablation run --out runs/ablation   # resumable; re-run to continue
      ddmd-bench ablation run --seeds 0 --arms dmd2,decoupled-hybrid
      ddmd-bench ablation report --out runs/ablation            # copy finished runs to docs/ablation/runs, render
      ddmd-bench ablation report                                # rebuild docs/ablation from the committed runs
    """


@ablation.command(name="run")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/ablation"),
              show_default=True, help="Folder of all runs; re-running resumes.")
@click.option("--seeds", default="0,1,2,3,4", show_default=True,
              help="Comma-separated training seeds; each arm runs as many of them as it plans (5 or 3).")
@click.option("--arms", default=None, help="Comma-separated arm names (default: every arm).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Student updates per run [300].")
@click.option("--snapshot-every", type=click.IntRange(min=1), default=None,
              help="Score an EMA snapshot every this many updates [75].")
@click.option("--prompts", type=click.IntRange(min=1), default=None,
              help="Score on the first N toy prompts (a smaller protocol, named toy-nN) instead of all.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Training batch (default: presets').")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads.")
@click.option("--committed", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/ablation/runs"),
              show_default=True, help="Runs committed here (same teacher and config) count as finished.")
def ablation_run(out, seeds, arms, steps, snapshot_every, prompts, batch_size, threads, committed):
    """Train and score every planned (seed, arm) run that is not finished yet."""
    import torch  # heavy backend: only when training runs

    from ddmd_bench.tracks.toy.ablation import ARMS, AblationConfig, AblationMismatch, run_all

    if threads:
        torch.set_num_threads(threads)
    logging.getLogger("ddmd_bench").setLevel(logging.INFO)
    default = AblationConfig()
    chosen = tuple(a.strip() for a in arms.split(",")) if arms else default.arms
    for arm in chosen:
        try:
            ARMS.get(arm)
        except KeyError as exc:
            raise click.BadParameter(str(exc), param_hint="--arms") from exc
    try:
        seed_list = tuple(int(s) for s in seeds.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"{seeds!r} is not a comma-separated list of integers", param_hint="--seeds") from exc
    cfg = AblationConfig(arms=chosen, seeds=seed_list, steps=steps or default.steps,
                         snapshot_every=snapshot_every or default.snapshot_every, prompts=prompts,
                         batch_size=batch_size)
    try:
        run_all(cfg, out, committed)
    except AblationMismatch as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"ablation runs in {out}; render with `ddmd-bench ablation report --out {out}`")


@ablation.command(name="report")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of ablation runs to take the finished ones from (default: only those committed under "
                   "<to>/runs).")
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/ablation"),
              show_default=True, help="Where to write table.md, results.json and curves.png (runs go to <to>/runs).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON instead of the table.")
def ablation_report(out, target, as_json):
    """Table, paired differences, claims and learning curves of every finished run."""
    from ddmd_bench.tracks.toy.ablation import AblationMismatch, ReportPaths, report

    try:
        folder, copied = report(ReportPaths(target, out))
    except (FileNotFoundError, AblationMismatch) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"folder": str(folder), "copied": copied,
                               "files": [str(folder / n) for n in ("table.md", "results.json", "curves.png")
                                         if (folder / n).exists()]}, indent=1))
        return
    if copied is not None:
        click.echo(f"copied {copied} finished run(s) from {out} to {target / 'runs'}")
    click.echo((folder / "table.md").read_text())


# ---------------------------------------------------------------------------------------------------- leaderboard

@main.group()
def leaderboard() -> None:
    """Inspect and validate leaderboard files (one per protocol version, append-only).

    \b
    Examples:
      ddmd-bench leaderboard show leaderboards/toy-v3.jsonl --sort prompt_accuracy
      ddmd-bench leaderboard validate leaderboards/
    """


@leaderboard.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sort", "sort_by", default="fid", show_default=True, help="Metric to sort by.")
@click.option("--json", "as_json", is_flag=True, help="Print entries as JSON.")
def leaderboard_show(path, sort_by, as_json) -> None:
    """Print a leaderboard as a table sorted by a metric.

    \b
    Example:
      ddmd-bench leaderboard show leaderboards/toy-v3.jsonl --sort prompt_accuracy
    """
    from ddmd_bench.leaderboard import store, table

    try:
        header, entries = _readable_entries(path)
        reproductions, problems = store.read_reproductions(path, entries)
        _warn_skipped(problems)
        rows = table.sort_rows(table.rows(entries), sort_by)
    except (store.LeaderboardError, ValueError) as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(table.with_reproductions(entries, reproductions, sort_by), indent=1))
    else:
        click.echo(table.render_text(rows, header))
        if reproductions:
            click.echo("\n" + table.render_reproductions(entries, reproductions, store.reproductions_path(path)))


def _readable_entries(path: Path):
    """(header, entries) of a leaderboard, skipping each bad entry line with a warning that names it; an unusable
    header is an error."""
    from ddmd_bench.leaderboard import store

    scanned = store.scan(path)
    if scanned.header is None:
        raise store.LeaderboardError("; ".join(str(p) for p in scanned.problems))
    _warn_skipped(scanned.problems)
    return scanned.header, scanned.entries


def _warn_skipped(problems) -> None:
    for problem in problems:
        click.echo(f"warning: skipped {problem} (`ddmd-bench leaderboard validate` checks a whole file)", err=True)


def _entry_by_ref(entries, ref: str):
    """An entry by index (0-based), hash prefix or exact generator name."""
    if ref.isdigit() and int(ref) < len(entries):
        return entries[int(ref)]
    matches = [e for e in entries if e.hash.startswith(ref) or e.record["generator"]["name"] == ref]
    if len(matches) != 1:
        names = [e.record["generator"]["name"] for e in entries]
        problem = "ambiguous" if matches else "unknown"
        raise click.ClickException(unknown_name_message("entry", ref, names).replace("unknown", problem, 1)
                                   + " (or use an index or a hash prefix)")
    return matches[0]


@leaderboard.command("compare")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("entry_a")
@click.argument("entry_b")
@click.option("--fail-on", "gates", multiple=True, metavar="METRIC:LIMIT",
              help="Exit 1 if B is worse than A by more than LIMIT: absolute (fid:+0.5) or relative "
                   "(latency.p50:5%). Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def leaderboard_compare(path, entry_a, entry_b, gates, as_json) -> None:
    """Test whether entry B differs from entry A: paired bootstrap over per-prompt scores, FID intervals.

    Entries are named by generator name, index or hash prefix.

    \b
    Examples:
      ddmd-bench leaderboard compare leaderboards/toy-v3.jsonl toy-teacher/euler-50/nocfg toy-teacher/euler-50/cfg3
      ddmd-bench leaderboard compare leaderboards/toy-v3.jsonl 0 1 --fail-on fid:+0.5 --fail-on latency.p50:5%
    """
    from ddmd_bench.leaderboard import compare, store

    try:
        parsed = [compare.Gate.parse(g) for g in gates]
        _, entries = store.read(path)
        a, b = _entry_by_ref(entries, entry_a), _entry_by_ref(entries, entry_b)
        results = compare.compare_records(a.record, b.record)
        failures = [m for g in parsed if (m := g.check(a.record, b.record))]
    except (store.LeaderboardError, ValueError, KeyError) as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps({"a": a.record["generator"]["name"], "b": b.record["generator"]["name"],
                               "comparisons": [asdict(c) for c in results], "gate_failures": failures}, indent=1))
    else:
        click.echo(f"A = {a.record['generator']['name']}\nB = {b.record['generator']['name']}\n")
        for c in results:
            interval = f"[{c.low:+.4g}, {c.high:+.4g}]" if c.low is not None else ""
            diff = f"{c.diff:+.4g}" if c.diff is not None else "n/a"
            click.echo(f"{c.metric:26s} B-A {diff:>10s} {interval:24s} {c.verdict}  ({c.method})")
        for f in failures:
            click.echo(f"GATE FAILED  {f}")
    if failures:
        sys.exit(1)


@leaderboard.command("render")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["markdown", "html", "png"]), default="markdown",
              show_default=True, help="Markdown table, self-contained HTML page, or PNG plots.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output file (html, markdown) or folder (png). Default: stdout for markdown.")
@click.option("--sort", "sort_by", default="fid", show_default=True, help="Sort key for the Markdown table.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: the files written, or the rendered text when nothing is written.")
def leaderboard_render(path, fmt, out, sort_by, as_json) -> None:
    """Render a leaderboard as a Markdown table, an HTML page (sortable, filterable, offline) or PNG plots.

    \b
    Examples:
      ddmd-bench leaderboard render leaderboards/toy-v3.jsonl > table.md
      ddmd-bench leaderboard render leaderboards/toy-v3.jsonl --format html --out docs/leaderboard.html
      ddmd-bench leaderboard render leaderboards/toy-v3.jsonl --format png --out docs/
    """
    from ddmd_bench.leaderboard import plots, render, store, table

    try:
        header, entries = _readable_entries(path)
        if fmt == "markdown":
            text = render.markdown(header, entries, sort_by)
        elif fmt == "html":
            text = render.html_page(header, entries)
        else:
            written = plots.write_pngs(table.rows(entries), out or Path("."), path.stem)
            click.echo(json.dumps({"format": fmt, "written": [str(p) for p in written]}, indent=1) if as_json
                       else "\n".join(str(p) for p in written))
            return
    except (store.LeaderboardError, ValueError) as exc:
        raise _fail(exc) from exc
    if out is None:
        click.echo(json.dumps({"format": fmt, "text": text}, indent=1) if as_json else text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(json.dumps({"format": fmt, "written": [str(out)]}, indent=1) if as_json else str(out))


@leaderboard.command("import")
@click.option("--reported", "builtin", is_flag=True,
              help="Import the built-in published numbers (Decoupled DMD Table 2, DMD2 zoo, MLPerf gate).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboards"),
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was added, per leaderboard file, as JSON.")
def leaderboard_import(builtin, directory, as_json) -> None:
    """Add published results as `reported` entries, each under its own paper protocol (never mixed).

    \b
    Example:
      ddmd-bench leaderboard import --reported
    """
    from ddmd_bench.leaderboard import store
    from ddmd_bench.tracks.literature import reported

    if not builtin:
        raise click.UsageError("say what to import: --reported")
    files = []
    for protocol, records in reported.reported_sets():
        added = sum(store.append(directory, protocol, r, origin="reported") for r in records)
        files.append({"leaderboard": str(store.path_for(directory, protocol)), "added": added,
                      "records": len(records)})
        if not as_json:
            click.echo(f"{files[-1]['leaderboard']}: {added} new of {len(records)}")
    if as_json:
        click.echo(json.dumps({"files": files}, indent=1))


@leaderboard.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print every checked file and problem as JSON.")
def leaderboard_validate(paths, as_json) -> None:
    """Check every header, fingerprint, entry hash and number (no NaN or infinity) of each leaderboard and its
    reproductions file; list every problem as FILE:LINE: WHAT and exit 1 if there is any.

    \b
    Example:
      ddmd-bench leaderboard validate leaderboards/
    """
    from ddmd_bench.leaderboard import validate

    report = validate.validate_paths(paths or (Path("leaderboards"),))
    if as_json:
        click.echo(json.dumps({
            "files": [{"path": str(f.path), "kind": f.kind, "valid": f.valid, "problems": [str(p) for p in f.problems]}
                      for f in report.files],
            "empty_folders": [str(d) for d in report.missing], "problems": len(report.problems)}, indent=1))
        if report.problems:
            sys.exit(1)
        return
    for line in report.lines():
        click.echo(line)
    if report.problems:
        raise click.ClickException(report.summary())


# ---------------------------------------------------------------------------------------------------- methods

@main.group()
def methods() -> None:
    """Generators and their sampling recipes: the shipped toy models and every published method's recipe.

    \b
    Examples:
      ddmd-bench methods list
      ddmd-bench methods show dmd2-sdxl-4step
      ddmd-bench methods show toy-teacher/euler-4/cfg3
    """


@methods.command("list")
@click.option("--json", "as_json", is_flag=True)
def methods_list(as_json) -> None:
    """List the toy suite and the published recipes (`evaluate --model NAME` / `evaluate --method NAME`).

    Any local diffusers pipeline folder runs too: `evaluate --pipeline PATH` (students exported by
    `ddmd-bench train` included).

    \b
    Example:
      ddmd-bench methods list --json
    """
    from ddmd_bench.generators.resolve import default_suite
    from ddmd_bench.recipes.catalog import RECIPES

    toy = default_suite()
    recipes = [RECIPES.get(n) for n in RECIPES]
    if as_json:
        click.echo(json.dumps({"toy": toy, "recipes": [
            {"name": r.name, "method": r.method, "pipeline": r.pipeline, "steps": r.steps, "guidance": r.guidance,
             "resolution": r.resolution, "unverified": list(r.unverified)} for r in recipes]}, indent=1))
        return
    click.echo("toy suite (--model):")
    click.echo("\n".join(f"  {n}" for n in toy))
    click.echo("published recipes (--method):")
    for r in recipes:
        flags = (" [needs --allow-pickle]" if r.needs_pickle else "") + (" [has unverified details]"
                                                                          if r.unverified else "")
        click.echo(f"  {r.name:28s} {r.method:16s} {r.steps:>2} steps  guidance {r.guidance:<4g} "
                   f"{r.resolution} px  {r.scheduler.cls or '(repo scheduler)'}{flags}")


@methods.command("show")
@click.argument("name")
def methods_show(name) -> None:
    """Print a recipe in full (sources, unverified details) or a toy generator's resolved description.

    \b
    Examples:
      ddmd-bench methods show dmd2-sdxl-4step
      ddmd-bench methods show toy-teacher/euler-4/cfg3
    """
    from ddmd_bench.recipes.catalog import RECIPES

    if name in RECIPES:
        click.echo(json.dumps(RECIPES.get(name).to_dict(), indent=1))
        return
    from ddmd_bench.generators.resolve import resolve_generator  # a toy model is loaded to describe it (torch)

    try:
        click.echo(json.dumps(resolve_generator(name).describe(), indent=1))
    except UnknownNameError as exc:
        raise _fail(exc) from exc
    except (ValueError, RuntimeError) as exc:
        if "unknown model" not in str(exc):
            raise _fail(exc) from exc
        raise click.ClickException(_unknown_method_message(name, RECIPES.names())) from exc


def _unknown_method_message(name: str, recipes: list[str]) -> str:
    """Did-you-mean over the published recipes and the toy suite together (a recipe typo gets the recipe)."""
    from ddmd_bench.generators.resolve import default_suite

    toy = default_suite()
    close = difflib.get_close_matches(name, recipes + toy, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (f"unknown method or model {name!r}{hint} Published recipes: {', '.join(recipes)}. Toy models: "
            f"{', '.join(toy)} (or a toy spec such as teacher:steps=4,guidance=3)")


# ---------------------------------------------------------------------------------------------------- prompts

@main.group()
def prompts() -> None:
    """Prompt sets and protocols: list them, show them, hash them.

    \b
    Examples:
      ddmd-bench prompts list
      ddmd-bench prompts show toy --limit 5
      ddmd-bench prompts hash prompts/toy-v1.txt
    """


@prompts.command("list")
@click.option("--json", "as_json", is_flag=True)
def prompts_list(as_json) -> None:
    """List protocols (with the data files each needs) and the prompt sets shipped under prompts/.

    \b
    Example:
      ddmd-bench prompts list
    """
    from ddmd_bench import prompt_manifest
    from ddmd_bench.protocols import PROTOCOLS, describe

    protocols = [describe(name) for name in PROTOCOLS]
    shipped = [{"name": n, **prompt_manifest.entry(n)} for n in prompt_manifest.shipped_names()]
    if as_json:
        click.echo(json.dumps({"protocols": protocols, "prompt_sets": shipped}, indent=1))
        return
    click.echo("protocols:")
    for d in protocols:
        prompt_keys = [src["key"] for src in d.get("prompt_sources", []) if src.get("key")]
        other = [f["key"] for f in d.get("data_files", []) if f["key"] not in prompt_keys]
        keys = ", ".join(([" | ".join(prompt_keys)] if prompt_keys else []) + other)
        click.echo(f"  {d['name']:20s} n={d['n_prompts']!s:6s} {d['resolution']} px  "
                   + (f"data: {keys}" if keys else "no data files needed"))
    click.echo("prompt sets (prompts/):")
    for e in shipped:
        click.echo(f"  {e['name']:20s} v{e['version']}  n={e['n']}  sha256={e['sha256']}")


@prompts.command("show")
@click.argument("protocol_name", default="toy")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--data", "data_files", multiple=True, metavar="KEY=PATH",
              help="The protocol's data files (literature protocols read their prompts from them).")
@click.option("--json", "as_json", is_flag=True, help="Print the protocol's name, fingerprint and (seed, prompt) list.")
def prompts_show(protocol_name, limit, data_files, as_json) -> None:
    """Print a protocol's prompts, one per line, with their seeds (after every check `evaluate` would make).

    \b
    Examples:
      ddmd-bench prompts show toy --limit 5
      ddmd-bench prompts show coco30k-256 --data captions=captions_coco14_test.txt --limit 3
    """
    from ddmd_bench.protocols import get_protocol

    try:
        protocol, ctx = get_protocol(protocol_name, limit, data=_parse_data(data_files))
    except (UnknownNameError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    pairs = list(zip(protocol.seeds(len(ctx.prompt_set.prompts)), ctx.prompt_set.prompts))
    if as_json:
        click.echo(json.dumps({"protocol": protocol.name, "version": protocol.version,
                               "fingerprint": protocol.fingerprint,
                               "prompts": [{"seed": seed, "prompt": p} for seed, p in pairs]}, indent=1))
        return
    for seed, p in pairs:
        click.echo(f"{seed}\t{p}")


@prompts.command("hash")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", default=None, metavar="FORMAT",
              help="txt, jsonl, partiprompts, drawbench, hpsv2, geneval, mjhq or coco (default: from the suffix).")
def prompts_hash(path, fmt) -> None:
    """sha256 of a prompt file's canonical text (prompts joined by newlines), after strict parsing.

    \b
    Examples:
      ddmd-bench prompts hash prompts/toy-v1.txt
      ddmd-bench prompts hash PartiPrompts.tsv --format partiprompts
    """
    from ddmd_bench.prompts import PromptFileError, load

    try:
        ps = load(path, fmt)
    except (PromptFileError, UnknownNameError) as exc:
        raise _fail(exc) from exc
    click.echo(f"{ps.sha256}  {path}  ({len(ps.prompts)} prompts"
               + (f"; normalised: {ps.normalization})" if ps.normalization else ")"))


# ---------------------------------------------------------------------------------------------------- stats

@main.group()
def stats() -> None:
    """Reference statistics for FID: make them from images, inspect them.

    \b
    Examples:
      ddmd-bench stats make coco_val_256/ --out refs/coco30k-256.npz
      ddmd-bench stats make real.zip --extractor inception-patch --out refs/patch.npz
      ddmd-bench stats info refs/coco30k-256.npz
    """


@stats.command("make")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .npz file.")
@click.option("--extractor", default="inception", show_default=True,
              help="inception (clean-fid clean mode), inception-patch (DMD2 patch FID) or toy.")
@click.option("--protocol", "protocol_name", default=None, metavar="NAME",
              help="Make the statistics a literature protocol needs (its crop and resize applied to every image, "
                   "its identity recorded, so `evaluate --data reference_stats=OUT` accepts them); "
                   "overrides --extractor.")
@click.option("--metric", default="fid", show_default=True, help="With --protocol: fid or patch_fid.")
@click.option("--weights", type=click.Path(path_type=Path), default=None, help="Explicit extractor weights file.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
def stats_make(source, out, extractor, protocol_name, metric, weights, batch_size) -> None:
    """Compute mean and covariance (float64, streamed) of a folder or zip of images.

    \b
    Examples:
      ddmd-bench stats make val2014/ --protocol coco30k-256 --out refs/coco30k-256-fid.npz
      ddmd-bench stats make real/ --extractor toy --out refs/toy.npz
    """
    from ddmd_bench import resolver
    from ddmd_bench.tracks.literature.reference_stats import make_reference_stats
    from ddmd_bench.metrics import reference

    try:
        if protocol_name is not None:
            meta = make_reference_stats(protocol_name, metric, source, out, weights, batch_size)
        else:
            meta = reference.make(source, reference.EXTRACTORS.get(extractor)(weights), out, batch_size)
    except (UnknownNameError, ValueError, resolver.WeightsNotFound, resolver.WeightsHashMismatch) as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps({k: v for k, v in meta.items() if k not in ("mu", "sigma")}, indent=1))


@stats.command("info")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def stats_info(path) -> None:
    """Print a reference file's identity: n, extractor, weights sha256, preprocessing, its own sha256."""
    from ddmd_bench.metrics import reference

    try:
        meta = reference.info(path)
    except ValueError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps({k: v for k, v in meta.items() if k not in ("mu", "sigma")}, indent=1))


# ---------------------------------------------------------------------------------------------------- export

@main.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Output folder (new or empty): a diffusers pipeline folder for runs on a diffusers teacher, the "
                   "student file for toy runs; export.json records the run, its config and every file's sha256.")
@click.option("--json", "as_json", is_flag=True, help="Print the export record as JSON.")
def export(run_dir, out, as_json) -> None:
    """Export a training run's EMA student: a diffusers pipeline with its few-step scheduler, plus the LoRA in
    diffusers' format (lora/pytorch_lora_weights.safetensors, for `pipe.load_lora_weights`); toy runs export their
    student file.

    \b
    Examples:
      ddmd-bench export runs/my-sd15-run --out exports/my-sd15-4step
      ddmd-bench evaluate --pipeline exports/my-sd15-4step
      ddmd-bench export runs/toy-ddmd-4step --out exports/toy-ddmd-4step --json
    """
    from ddmd_bench.training.export import export_run  # heavy backend (torch, diffusers): only when exporting

    try:
        result = export_run(run_dir, out)
    except (ValueError, RuntimeError) as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps({"out": str(result.out_dir), **result.record}, indent=1, default=str))
        return
    student = result.record["student"]
    click.echo(f"exported {run_dir} ({result.kind}, {len(student['student_sigmas'])}-step student "
               f"{student['sha256'][:12]}) to {result.out_dir}")
    lora = result.record.get("lora")
    if lora:
        click.echo(f"  LoRA (rank {lora['rank']}, {lora['component']}): pipe.load_lora_weights("
                   f"'{result.out_dir / lora['folder']}', weight_name='{lora['weight_name']}') on {lora['base']}")


# ---------------------------------------------------------------------------------------------------- doctor

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--method", "methods", multiple=True, metavar="NAME",
              help="Instead: list every hub file a published recipe needs that is missing from the HF cache, with "
                   "one `hf download` command per repository (repeatable); exit 1 if any is missing.")
def doctor(as_json, methods) -> None:
    """List which external metric weights are available offline, where, and how to provide the missing ones.

    \b
    Examples:
      HF_HUB_OFFLINE=1 ddmd-bench doctor
      HF_HUB_OFFLINE=1 ddmd-bench doctor --method dmd2-sdxl-4step   # what to download for a recipe
    """
    from ddmd_bench import resolver

    if methods:
        from ddmd_bench.recipes import get_recipe

        try:
            plan = resolver.download_plan([n for m in methods for n in resolver.recipe_needs(get_recipe(m))])
        except UnknownNameError as exc:
            raise _fail(exc) from exc
        click.echo(json.dumps(plan.to_dict(), indent=1) if as_json else plan.report())
        if not plan.complete:
            sys.exit(1)
        return
    from ddmd_bench.tracks.toy import shipped

    rows = resolver.status()
    toy = {name: meta["sha256"][:12] for name, meta in shipped.read_manifest()["files"].items()}
    if as_json:
        click.echo(json.dumps({"external": rows, "toy_shipped": toy}, indent=1))
        return
    for r in rows:
        where = r["path"] if r["available"] == "yes" else f"missing; {r['how']}"
        click.echo(f"{r['available']:4s} {r['name']:38s} {r['used_for']:48s} {where}")
    click.echo(f"toy track: {len(toy)} shipped weight files (" + ", ".join(f"{k} {v}" for k, v in toy.items()) + ")")


# ---------------------------------------------------------------------------------------------------- report

@main.group()
def report() -> None:
    """Documents generated from the committed data."""


@report.command("readme")
@click.option("--check", is_flag=True,
              help="Write nothing; print a diff and exit 1 if any file differs from the data.")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Repository root (README.md, docs/, leaderboards/, ...).")
def report_readme(check, root) -> None:
    """Regenerate every figure in README.md, CONTRIBUTING.md and docs/*.md from committed data.

    Rewrites the blocks between '<!-- generated:NAME -->' and '<!-- /generated:NAME -->' with the output of the
    section builder NAME (ddmd_bench/report/); text outside the blocks is left alone.

    \b
    Examples:
      ddmd-bench report readme            # rewrite the generated blocks
      ddmd-bench report readme --check    # CI: exit 1 with a diff when a figure differs from its data
    """
    from ddmd_bench.report.readme import regenerate
    from ddmd_bench.report.sources import ReportError

    try:
        changes = regenerate(root, write=not check)
    except ReportError as exc:
        raise _fail(exc) from None
    resolved = root.resolve()
    if check:
        for change in changes:
            click.echo(change.diff(resolved), nl=False)
        if changes:
            names = ", ".join(str(c.path.relative_to(resolved)) for c in changes)
            raise click.ClickException(f"generated figures differ from the data in {names}; "
                                       "run `ddmd-bench report readme` and commit the result")
        click.echo("generated figures match the data")
        return
    for change in changes:
        click.echo(f"rewrote {change.path.relative_to(resolved)}")
    if not changes:
        click.echo("generated figures already match the data")

if __name__ == "__main__":
    main()
