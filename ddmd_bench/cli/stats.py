"""`ddmd-bench stats`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ddmd_bench.cli._app import _fail, main
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
@click.option("--quiet", is_flag=True, help="No progress report (on a terminal a bar with ETA; otherwise a line "
              "every 30 s).")
def stats_make(source, out, extractor, protocol_name, metric, weights, batch_size, quiet) -> None:
    """Compute mean and covariance (float64, streamed) of a folder or zip of images.

    \b
    Examples:
      ddmd-bench stats make val2014/ --protocol coco30k-256 --out refs/coco30k-256-fid.npz
      ddmd-bench stats make real/ --extractor toy --out refs/toy.npz
    """
    from ddmd_bench import resolver
    from ddmd_bench.metrics import reference
    from ddmd_bench.tracks.literature.reference_stats import make_reference_stats
    from ddmd_bench.utils import progress

    try:
        with progress.quieted(quiet):
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
