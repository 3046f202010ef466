"""The `ddmd-bench` command group, its error handling and the helpers its commands share.

Each command imports the library code it calls inside its own body: `--help` and the listing commands then load
only what they run, never a model backend such as diffusers (tests/unit/test_fast_commands.py checks this).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ddmd_bench import __version__
from ddmd_bench.tracks.toy import protocol_facts as toy_facts  # constants only: no model backend

# function-level imports: each command imports the library code it runs, so `--help` and listings stay fast

log = logging.getLogger("ddmd_bench")


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


# Errors that describe the user's input (a file, a name, a value) and whose message says what is wrong with it.
INPUT_ERRORS = (ValueError, KeyError, OSError, RuntimeError, ArithmeticError)


def failure_message(exc: BaseException) -> str:
    """One line for an error that reached the command line: the library's own message for input errors, and for
    anything else the error's type too, with where to get the traceback."""
    if isinstance(exc, INPUT_ERRORS) and str(exc):
        return str(exc)
    return (f"unexpected {type(exc).__name__}: {exc}. Re-run with `ddmd-bench --debug ...` for the traceback and "
            f"report it with the command line")


class _Main(click.Group):
    """The command group. No error ends in a traceback (exit code 1 and one message) unless --debug is given."""

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if debug and exc.__cause__ is not None:
                click.echo("".join(traceback.format_exception(exc.__cause__)), err=True)
            raise
        except (click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug:
                raise
            raise click.ClickException(failure_message(exc)) from exc


def current_toy_board(f):
    """Fill `{toy_board}` and `{toy_reproductions}` in a command's help with the current toy protocol's leaderboard
    files, so the examples follow a protocol version bump. Apply it below the click decorators."""
    slug = f"leaderboards/{toy_facts.NAME}-v{toy_facts.VERSION}"
    f.__doc__ = f.__doc__.replace("{toy_board}", f"{slug}.jsonl").replace("{toy_reproductions}",
                                                                          f"{slug}.reproductions.jsonl")
    return f


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="ddmd-bench")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
@click.option("--debug", is_flag=True, help="On an error, show the full traceback (for bug reports).")
@click.option("--threads", "cpu_threads", type=click.IntRange(min=1), default=None,
              help="CPU threads per process (default: available cores / local processes).")
@current_toy_board
def main(verbose: bool, debug: bool, cpu_threads: int | None) -> None:
    """Evaluate distilled diffusion generators, keep comparable leaderboards, train reference baselines.

    \b
    Examples:
      ddmd-bench evaluate                      # every shipped toy model on the toy protocol
      ddmd-bench evaluate --model toy-teacher/euler-4/cfg3 --json
      ddmd-bench leaderboard show {toy_board} --sort fid
      ddmd-bench train teacher --track toy     # retrain the shipped toy teacher
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    from ddmd_bench.utils import threads

    threads.configure(cpu_threads)  # before torch loads: OpenMP reads its thread count once

class PromptFormat(click.Choice):
    """The prompt formats as choices, read when an option is parsed or its help shown, so that importing the
    command line does not load the prompt readers (and numpy)."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> list[str]:
        from ddmd_bench.prompts import FORMATS  # numpy: only when --format is parsed or shown

        return FORMATS.names()

def parse_data(items) -> dict[str, Path]:
    data = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{item!r}: expected KEY=PATH, e.g. captions=captions_coco14_test.txt",
                                     param_hint="--data")
        data[key] = Path(value)
    return data


# ------------------------------------------------------------------------------------------------- run configs

RUN_CONFIG_META = "ddmd_bench.run_config"  # where the loaded config waits in ctx.meta for the command body


@dataclass(frozen=True, slots=True)
class RunConfig:
    """A `--config` TOML file: its exact text and sha256 (what a record stores) and the option values it sets."""

    path: Path
    text: str
    sha256: str
    values: dict[str, Any]  # click parameter name -> value, as `ctx.default_map` takes them

    def record(self) -> dict[str, str]:
        """What a result record keeps: the file's path, its sha256 and its whole text."""
        return {"path": str(self.path), "sha256": self.sha256, "text": self.text}


def config_keys(command: click.Command) -> dict[str, click.Option]:
    """The keys a run config may use for `command`: each long option name, with dashes or underscores."""
    keys = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in ("run_config", "help") or not param.expose_value:
            continue
        for opt in (*param.opts, *param.secondary_opts):
            if opt.startswith("--"):
                keys[opt[2:]] = keys[opt[2:].replace("-", "_")] = param
    return keys


def read_run_config(path: Path, command: click.Command) -> RunConfig:
    """Parse a run config for `command`; an unknown key or a value of the wrong shape is a `click.BadParameter`
    that names the key and lists the valid ones."""
    if sys.version_info >= (3, 11):  # only when a --config is read
        import tomllib
    else:  # the same parser, as a package before Python 3.11
        import tomli as tomllib
    data = Path(path).read_bytes()
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: not a TOML file: {exc}", param_hint="--config") from exc
    keys = config_keys(command)
    valid = sorted(k for k in keys if "_" not in k or k.replace("_", "-") not in keys)
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise click.BadParameter(f"{path}: unknown key{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(map(repr, unknown))} for `{command.name}`; valid keys: "
                                 f"{', '.join(valid)}", param_hint="--config")
    values: dict[str, Any] = {}
    for key, value in table.items():
        param = keys[key]
        if param.name in values:
            raise click.BadParameter(f"{path}: {key!r} sets --{key.replace('_', '-')} a second time",
                                     param_hint="--config")
        values[param.name] = _config_value(path, key, param, value)
    return RunConfig(Path(path), data.decode("utf-8"), hashlib.sha256(data).hexdigest(), values)


def _config_value(path: Path, key: str, param: click.Option, value: Any) -> Any:
    """A TOML value as the option would receive it: a list for a repeatable option (a table of a KEY=VALUE option
    becomes its 'KEY=VALUE' items, nested keys joined with dots), a boolean for a flag, one scalar otherwise."""
    def bad(expected: str) -> click.BadParameter:
        return click.BadParameter(f"{path}: {key!r} must be {expected}, got {value!r}", param_hint="--config")

    if param.is_flag:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if param.multiple:
        if isinstance(value, dict):
            return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in _dotted(value)]
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, (list, dict)) for v in items):
            raise bad("a value or a list of values")
        return [str(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else v for v in items]
    if isinstance(value, (list, dict)):
        raise bad("a single value")
    return value


def _dotted(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """{'loss': {'guidance': 2}} -> [('loss.guidance', 2)]."""
    out = []
    for k, v in table.items():
        out += _dotted(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]
    return out


def _load_run_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    # eager: runs before every other option is read, so the file's values become their defaults and an option
    # given on the command line still wins
    if value is None:
        return
    config = read_run_config(value, ctx.command)
    ctx.default_map = {**(ctx.default_map or {}), **config.values}
    ctx.meta[RUN_CONFIG_META] = config


def run_config_option(command: click.Command) -> click.Command:
    """The `--config FILE` option of a command: a TOML file whose keys are the command's option names."""
    return click.option(
        "--config", "run_config", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE",
        is_eager=True, expose_value=False, callback=_load_run_config,
        help="Read options from a TOML file: keys are this command's option names (dashes or underscores), "
             "e.g. `limit = 40`, `model = [\"ddmd-4step\"]`; options given on the command line win. The file's "
             "text and sha256 are recorded.")(command)


def run_config_record() -> dict[str, str] | None:
    """The record of the running command's `--config` file (path, sha256, text), or None without one."""
    config = click.get_current_context().meta.get(RUN_CONFIG_META)
    return None if config is None else config.record()
