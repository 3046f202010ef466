"""`ddmd-bench doctor`."""

from __future__ import annotations

import json
import sys

import click

from ddmd_bench.cli._app import _fail, main
from ddmd_bench.registry import UnknownNameError


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
