"""`ddmd-bench ablation`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from ddmd_bench.cli._app import main


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
