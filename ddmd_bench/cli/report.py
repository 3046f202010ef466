"""`ddmd-bench report`."""

from __future__ import annotations

from pathlib import Path

import click

from ddmd_bench.cli._app import _fail, main


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
