"""`ddmd-bench evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.core import ParameterSource

from ddmd_bench.cli._app import (
    PromptFormat,
    _fail,
    current_toy_board,
    main,
    parse_data,
    run_config_option,
    run_config_record,
)
from ddmd_bench.registry import UnknownNameError


@main.command()
@run_config_option
@click.option("--protocol", "protocol_name", default="toy", show_default=True, metavar="NAME",
              help="Evaluation protocol (see `ddmd-bench prompts list`).")
@click.option("--model", "models", multiple=True, metavar="SPEC",
              help="Generator to evaluate, repeatable: a suite name from `ddmd-bench methods list` or "
                   "'teacher:steps=8,guidance=3'. Default: every shipped toy model.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the first N prompts (a different protocol, with its own leaderboard file). A limit that "
                   "leaves a metric too few samples (FID needs 2; held-out accuracy needs a held-out prompt) is "
                   "refused before any image is generated, naming the metric and the smallest limit that works; "
                   "an interval from fewer than 4 samples is not shown.")
@click.option("--batch-size", type=click.IntRange(min=1), default=96, show_default=True, help="Images per batch.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Where result records are written (and reused from).")
@click.option("--leaderboard-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboards"),
              show_default=True, help="Where the protocol's leaderboard file lives.")
@click.option("--force", is_flag=True, help="Recompute even if a matching result record exists.")
@click.option("--no-leaderboard", is_flag=True, help="Write result records only.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")
@click.option("--quiet", is_flag=True, help="No progress reports (on a terminal a bar with ETA; otherwise a line "
              "every 30 s).")
@click.option("--latency-rounds", type=click.IntRange(min=1), metavar="N",
              help="Timed latency rounds (default: the protocol's; the record keeps both counts).")
@click.option("--no-latency", is_flag=True, help="Measure no latency and no cold start: the record says latency was "
              "not measured and tables show none.")
@click.option("--save-images", is_flag=True, help="Also save every image as PNG next to the record.")
@click.option("--grid", is_flag=True, help="Save an 8x8 grid of the first 64 images (<record>.grid.png).")
@click.option("--dry-run", is_flag=True, help="Print the resolved protocol, generators and cost (denoiser calls x the cost of one call, "
              "from an earlier run on this hardware or timed now on one image); run nothing else.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile each generator's denoiser (recorded).")
@click.option("--method", "methods", multiple=True, metavar="NAME",
              help="A published method's recipe, repeatable (see `ddmd-bench methods list`).")
@click.option("--pipeline", "pipelines", multiple=True, metavar="DIR|ORG/NAME",
              help="A whole diffusers pipeline, run with its own scheduler and defaults, repeatable: a local folder "
                   "(exports of `ddmd-bench export` included) or a hub repository id, from the HF cache first.")
@click.option("--revision", metavar="REV", help="Commit, branch or tag of the hub --pipeline or --base "
              "(the commit it resolves to is recorded).")
@click.option("--base", metavar="DIR|ORG/NAME", help="Base pipeline for --student or --lora: a local folder or a hub "
              "repository id, sampled with its own scheduler and defaults (change them with --steps, --guidance, "
              "--scheduler).")
@click.option("--student", metavar="FILE|DIR", help="Your distilled UNet or transformer on --base or on a --method "
              "recipe (which keeps its scheduler, timesteps and guidance): a .safetensors file or a diffusers model "
              "folder.")
@click.option("--lora", metavar="FILE", help="A LoRA (.safetensors, diffusers or kohya keys) on --base or on a "
              "--method recipe, fused at --lora-scale; with --student, fused into your student network.")
@click.option("--lora-scale", type=float, metavar="S", help="Scale of the --lora (default 1).")
@click.option("--run", "run_dirs", multiple=True, metavar="RUN_DIR",
              type=click.Path(exists=True, file_okay=False),
              help="The student of a `ddmd-bench train` run folder, repeatable: the same numbers as evaluating its "
                   "export (a diffusers run is exported once to RUN_DIR/pipeline).")
@click.option("--name", "display_name", metavar="NAME",
              help="The result's name (and result file) for the one generator named, instead of the default.")
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
@click.option("--format", "prompts_format", type=PromptFormat(), default=None,
              help="Format of the --prompts file (default: from its suffix).")
@click.option("--geneval-out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="With a GenEval protocol (--protocol geneval or geneval-512): also write the images in "
                   "GenEval's folder layout with its metadata, for GenEval's own object-detector scorer (one "
                   "sub-folder per generator when several run). Implies --save-images.")
@current_toy_board
def evaluate(protocol_name, models, limit, batch_size, results_dir, leaderboard_dir, force, no_leaderboard,
             as_json, quiet, latency_rounds, no_latency, save_images, grid, dry_run, compile_, methods,
             pipelines, revision, base, student,
             lora, lora_scale, run_dirs, display_name, steps, guidance, scheduler,
             resolution, eta, dtype, offload, vae_tiling, vae_slicing, attention_backend, data_files,
             allow_pickle, prompts_file, prompts_format, geneval_out) -> None:
    """Generate images for a protocol's prompts and score them (FID, CLIP score, prompt accuracy, latency).

    With no arguments, evaluates every shipped toy model on the toy protocol, prints a table, writes one result
    record per model under results/ and adds the results to {toy_board}. A re-run that reproduces
    an entry (same generator identity, quality numbers within the tolerance of docs/leaderboard.md) is recorded in
    the untracked {toy_reproductions} instead. Re-running reuses finished results.

    \b
    Examples:
      ddmd-bench evaluate
      ddmd-bench evaluate --model teacher:steps=2,guidance=3 --limit 40 --json
      ddmd-bench evaluate --model ddmd-4step --grid          # a shipped student, with an image grid
      ddmd-bench evaluate --dry-run                          # what would run, and what it costs
      ddmd-bench evaluate --protocol coco10k-512-patch --method dmd2-sdxl-4step --data captions=coco10k.txt
      ddmd-bench evaluate --pipeline runs/my-student/pipeline --limit 64   # any local diffusers folder
      ddmd-bench evaluate --pipeline myorg/my-distilled-sdxl --revision v1  # a hub pipeline (commit recorded)
      ddmd-bench evaluate --method dmd2-sdxl-4step --student my_unet.safetensors --name mine  # the recipe's sampler
      ddmd-bench evaluate --method dmd2-sdxl-4step --lora my_lora.safetensors --lora-scale 0.8
      ddmd-bench evaluate --base my-sdxl/ --student my_unet.safetensors --lora style.safetensors  # LoRA on student
      ddmd-bench evaluate --run runs/toy-ddmd-4step          # a training run's student (docs/checkpoints.md)
      ddmd-bench evaluate --config run.toml --limit 8        # options from a file; flags win (docs/api.md)
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

    data = parse_data(data_files)
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
    checkpoint = _checkpoint_spec(methods, pipelines, base, revision, student, lora, lora_scale)
    names = _generator_names(models, methods, pipelines, revision, checkpoint, run_dirs, display_name)
    layout_context = _geneval_context(protocol_name, limit, data) if geneval_out is not None else None
    request = suite.EvaluationRequest(
        protocol=protocol_name, models=names,
        limit=limit, data=data, results_dir=results_dir,
        leaderboard_dir=None if no_leaderboard else leaderboard_dir, force=force, compile=compile_,
        generator_options=GeneratorOptions(overrides, RunSettings(
            dtype=dtype, offload=offload, vae_tiling=vae_tiling, vae_slicing=vae_slicing,
            attention_backend=attention_backend, compile=compile_, allow_pickle=allow_pickle), display_name),
        run=suite.RunOptions(batch_size, not quiet, save_images or geneval_out is not None, grid,
                             latency=not no_latency, latency_rounds=latency_rounds),
        run_config=run_config_record())
    if dry_run:
        download = None
        if methods:  # what the recipes and the metrics need from the hub, listed whether or not the run can start
            try:
                download = _recipes_download_plan(request, methods, overrides, checkpoint)
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


def _checkpoint_spec(methods, pipelines, base, revision, student, lora, lora_scale):
    """The --student, the --lora, or both on its --base or --method (None when neither is given); bad combinations
    are usage errors, raised before anything is loaded."""
    from ddmd_bench.generators.checkpoints import CheckpointError, CheckpointSpec

    if student is None and lora is None:
        if base is not None:
            raise click.UsageError("--base is the pipeline under a --student or --lora; give one of them (a whole "
                                   "pipeline is --pipeline DIR|ORG/NAME)")
        if lora_scale is not None:
            raise click.UsageError("--lora-scale scales a --lora; give the LoRA file too")
        return None
    if pipelines:
        raise click.UsageError(f"--student and --lora go on top of --base DIR|ORG/NAME or --method NAME, not on a "
                               f"whole --pipeline (for example --base {pipelines[0]})")
    if len(methods) > 1 or (methods and base is not None):
        given = [*(f"--method {m}" for m in methods), *([f"--base {base}"] if base else [])]
        raise click.UsageError(f"--student and --lora go on one base: one --base or one --method, got "
                               f"{', '.join(given)}")
    try:
        return CheckpointSpec(base, revision, methods[0] if methods else None, student, lora,
                              1.0 if lora_scale is None else lora_scale)
    except CheckpointError as exc:
        raise click.UsageError(str(exc)) from exc


def _generator_names(models, methods, pipelines, revision, checkpoint, run_dirs, display_name) -> tuple[str, ...]:
    """The generator names of the request: shipped models, recipes (but the one under a --student or --lora),
    pipelines (a hub one at --revision), the checkpoint and the runs."""
    if checkpoint is None and revision is not None:
        hub = [p for p in pipelines if not Path(p).is_dir()]
        if len(hub) != 1 or "@" in hub[0]:
            raise click.UsageError("--revision applies to one hub repository, --pipeline ORG/NAME or --base "
                                   f"ORG/NAME (given once); got {len(hub)} hub --pipeline ids: {', '.join(hub)}")
        pipelines = [f"{p}@{revision}" if p in hub else p for p in pipelines]
    swapped = checkpoint.method if checkpoint is not None else None
    names = (*models, *(f"method:{m}" for m in methods if m != swapped), *(f"pipeline:{p}" for p in pipelines),
             *((f"checkpoint:{checkpoint.target()}",) if checkpoint is not None else ()),
             *(f"run:{d}" for d in run_dirs))
    if display_name is not None and (len(names) != 1 or models):
        shipped = " (shipped models keep their names)" if models else ""
        raise click.UsageError(f"--name names one --method, --pipeline, --student/--lora or --run generator; this "
                               f"run has {len(names)} generators{shipped}")
    return names


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


def _recipes_download_plan(request, methods, overrides, checkpoint=None):
    """What the named recipes (after the overrides; without the published student where --student or --lora
    replaces it) and the protocol's metrics need from the hub, checked against the HF cache without the network."""
    import dataclasses

    from ddmd_bench import resolver
    from ddmd_bench.protocols import LoadsWeights, get_protocol
    from ddmd_bench.recipes import apply_overrides, get_recipe

    _, context = get_protocol(request.protocol, request.limit, data=dict(request.data))
    recipes = [apply_overrides(get_recipe(m), overrides) for m in methods]
    if checkpoint is not None and checkpoint.method is not None:  # the user's weights are local files
        recipes = [dataclasses.replace(r, student=None) if m == checkpoint.method else r
                   for m, r in zip(methods, recipes)]
    needs = [need for r in recipes for need in resolver.recipe_needs(r)]
    if isinstance(context, LoadsWeights):
        needs += resolver.weights_needs(context.weight_names())
    return resolver.download_plan(needs)

