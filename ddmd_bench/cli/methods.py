"""`ddmd-bench methods`."""

from __future__ import annotations

import difflib
import json

import click

from ddmd_bench.cli._app import _fail, main
from ddmd_bench.registry import UnknownNameError


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
