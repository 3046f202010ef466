"""The `ddmd-bench` command group, its error handling and the helpers its commands share.

Each command imports the library code it calls inside its own body: `--help` and the listing commands then load
only what they run, never a model backend such as diffusers (tests/unit/test_fast_commands.py checks this).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

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
