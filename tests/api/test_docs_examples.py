"""Every example of docs/api.md runs as written: the Python blocks in order, in one namespace, in an empty folder
that holds the small pipeline folder the examples name; the TOML blocks are valid configs of the commands they
name."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from tests import factories as T

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


@pytest.fixture(autouse=True)
def few_fid_bootstraps(monkeypatch):
    """The examples print numbers; 10 FID bootstrap rounds instead of 200 keep them quick."""
    from ddmd_bench.tracks.toy import track

    monkeypatch.setattr(track, "FID_BOOTSTRAP", 10)


def test_the_python_examples_run(tmp_path, monkeypatch, capsys):
    import diffusers

    monkeypatch.chdir(tmp_path)
    T.sd15(tmp_path / "my-distilled-pipeline", diffusers.DDIMScheduler())
    blocks = _blocks("python")
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "docs_api"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/api.md python block {i + 1}", "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    board = namespace["board"]
    assert {"my-student", "uniform-noise", "toy-teacher/euler-2/cfg3"} <= set(board.names)
    assert "| origin |" in printed and "my-student" in printed
    assert namespace["evaluation"].result.protocol["name"] == board.protocol["name"]
    assert (tmp_path / "results").is_dir() and not any((tmp_path / "results" / "in-memory").rglob("*.json"))


def test_the_toml_examples_are_valid_configs(tmp_path):
    """Each TOML block starts with the command it is for; parsing that command's options from it (without running
    it) sets each key's option from the file."""
    from click.core import ParameterSource

    blocks = _blocks("toml")
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        words = block.splitlines()[0].removeprefix("# ").split()
        assert words[0] == "ddmd-bench", block
        path = [w for w in words[1:] if not w.startswith("-") and not w.endswith(".toml")]
        config = tmp_path / f"example-{i}.toml"
        config.write_text(block)
        ctx = _command(path).make_context(" ".join(path), ["--config", str(config)])
        set_by_file = {name for name in ctx.params if ctx.get_parameter_source(name) is ParameterSource.DEFAULT_MAP}
        assert len(set_by_file) == len(ctx.default_map) > 0, block


def _command(path: list[str]) -> click.Command:
    from ddmd_bench.cli import main

    command: click.Command = main
    for name in path:
        command = command.get_command(click.Context(command), name)
    return command
