"""Help examples name the leaderboard file of the current toy protocol, derived from its version, so a version bump
changes them without an edit."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ddmd_bench.cli import main
from ddmd_bench.tracks.toy.track import toy_protocol

CLI = Path(__file__).resolve().parents[2] / "ddmd_bench" / "cli"
BOARD = re.compile(r"leaderboards/(toy-v\d+)\.(?:reproductions\.)?jsonl")


def _helps() -> dict[str, str]:
    """The rendered --help of every command and group, by command path."""
    out: dict[str, str] = {}

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        ctx = click.Context(command, info_name=" ".join(path), parent=parent)
        out[" ".join(path)] = command.get_help(ctx)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name], ctx)

    walk(main, ["ddmd-bench"], None)
    return out


def test_help_names_only_the_current_toy_leaderboard():
    current = toy_protocol()[0].slug
    named = {(where, m) for where, text in _helps().items() for m in BOARD.findall(text)}
    assert named, "no command's help names the toy leaderboard file any more; update this test"
    stale = sorted((where, slug) for where, slug in named if slug != current)
    assert not stale, f"help examples name {stale}; the current toy leaderboard is {current}.jsonl"


def test_no_help_keeps_an_unfilled_placeholder():
    unfilled = sorted(where for where, text in _helps().items() if "{toy_" in text)
    assert not unfilled, f"add @current_toy_board below the click decorators of: {unfilled}"


def test_the_sources_name_no_toy_leaderboard_version():
    typed = sorted(f"{f.name}: {m[0]}" for f in CLI.glob("*.py") for m in BOARD.finditer(f.read_text()))
    assert not typed, f"write {{toy_board}} (filled from the toy protocol's version) instead of {typed}"
