"""`ddmd-bench stats`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ddmd_bench.cli._app import _fail, main, parse_data
from ddmd_bench.registry import UnknownNameError


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
@click.argument("source", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .npz file.")
@click.option("--extractor", default="inception", show_default=True,
              help="inception (clean-fid clean mode), inception-patch (DMD2 patch FID) or toy.")
@click.option("--protocol", "protocol_name", default=None, metavar="NAME",
              help="Make the statistics a literature protocol needs (its crop and resize applied to every image, "
                   "its identity recorded, so `evaluate --data reference_stats=OUT` accepts them); "
                   "overrides --extractor.")
@click.option("--metric", default="fid", show_default=True,
              help="With --protocol: fid or patch_fid (real images), fid_t or patch_fid_t (with --teacher).")
@click.option("--teacher", default=None, metavar="RECIPE|pipeline:PATH",
              help="With --protocol and a teacher metric (fid_t, patch_fid_t): generate the teacher's images for the "
                   "protocol's prompts (--data) with its seeds instead of reading SOURCE, and record the teacher's "
                   "identity (repository, weights sha256, sampling recipe, prompts, seeds) in the file. A published "
                   "recipe (sdxl-base or method:sdxl-base) or a whole pipeline (pipeline:PATH, "
                   "pipeline:ORG/NAME[@REV]).")
@click.option("--data", "data_files", multiple=True, metavar="KEY=PATH",
              help="With --teacher: the protocol's prompt file (`ddmd-bench prompts list` shows its keys).")
@click.option("--images", "images_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --teacher: keep the teacher's images (PNG) in this folder; a rerun continues it. "
                   "Default: a temporary folder, removed after.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="With --teacher: sampling steps instead of the recipe's (recorded in the file).")
@click.option("--guidance", type=float, default=None,
              help="With --teacher: guidance scale instead of the recipe's (recorded in the file).")
@click.option("--device", default=None, help="With --teacher: torch device (default: cuda when available).")
@click.option("--weights", type=click.Path(path_type=Path), default=None, help="Explicit extractor weights file.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images per feature batch (and per generation batch, with --teacher).")
@click.option("--quiet", is_flag=True, help="No progress report (on a terminal a bar with ETA; otherwise a line "
              "every 30 s).")
def stats_make(source, out, extractor, protocol_name, metric, teacher, data_files, images_dir, steps, guidance,
               device, weights, batch_size, quiet) -> None:
    """Compute mean and covariance (float64, streamed) of a folder or zip of images, or of a teacher's images for a
    protocol's prompts and seeds (FID-T).

    \b
    Examples:
      ddmd-bench stats make val2014/ --protocol coco30k-256 --out refs/coco30k-256-fid.npz
      ddmd-bench stats make real/ --extractor toy --out refs/toy.npz
      ddmd-bench stats make --protocol senseflow-coco5k-sdxl --metric fid_t --teacher sdxl-base \\
          --steps 40 --data coco_captions=captions_val2017.json --images teacher-images/ --out refs/sdxl-fid_t.npz
    """
    from ddmd_bench import resolver
    from ddmd_bench.generators.resolve import GeneratorOptions
    from ddmd_bench.generators.settings import RunSettings
    from ddmd_bench.metrics import reference
    from ddmd_bench.recipes import Overrides
    from ddmd_bench.tracks.literature.datafiles import DataFileError
    from ddmd_bench.tracks.literature.reference_stats import make_reference_stats
    from ddmd_bench.tracks.literature.teacher_reference import make_teacher_reference
    from ddmd_bench.utils import progress

    _check_sources(source, protocol_name, teacher, {"--data": data_files, "--images": images_dir, "--steps": steps,
                                                    "--guidance": guidance, "--device": device})
    try:
        with progress.quieted(quiet):
            if teacher is not None:
                options = GeneratorOptions(overrides=Overrides(steps=steps, guidance=guidance),
                                           settings=RunSettings(device=device))
                meta = make_teacher_reference(protocol_name, metric, teacher, parse_data(data_files), out, options,
                                              images_dir, weights, batch_size)
            elif protocol_name is not None:
                meta = make_reference_stats(protocol_name, metric, source, out, weights, batch_size)
            else:
                meta = reference.make(source, reference.EXTRACTORS.get(extractor)(weights), out, batch_size)
    except (UnknownNameError, ValueError, TypeError, KeyError, DataFileError, resolver.WeightsNotFound,
            resolver.WeightsHashMismatch) as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps({k: v for k, v in meta.items() if k not in ("mu", "sigma")}, indent=1))


def _check_sources(source, protocol_name, teacher, teacher_options: dict) -> None:
    """Images come from SOURCE, or from --teacher for a --protocol; the teacher's options need --teacher."""
    if teacher is None:
        given = [name for name, value in teacher_options.items() if value not in (None, ())]
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply with --teacher (a teacher's images generated for "
                                   "a protocol's prompts)")
        if source is None:
            raise click.UsageError("give the images (a folder or zip: SOURCE), or --protocol NAME --metric fid_t "
                                   "--teacher RECIPE to generate a teacher's images")
        return
    if protocol_name is None:
        raise click.UsageError("--teacher makes a protocol's FID-T reference: name it with --protocol (e.g. "
                               "senseflow-coco5k-sdxl) and --metric fid_t or patch_fid_t")
    if source is not None:
        raise click.UsageError(f"--teacher generates the images; SOURCE ({source}) would be ignored: give one of them")


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
