"""`ddmd-bench export`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ddmd_bench.cli._app import _fail, main


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
