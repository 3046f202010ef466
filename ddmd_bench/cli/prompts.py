"""`ddmd-bench prompts`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ddmd_bench.cli._app import _fail, main, parse_data
from ddmd_bench.registry import UnknownNameError


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
        protocol, ctx = get_protocol(protocol_name, limit, data=parse_data(data_files))
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
