"""The `ddmd-bench` command line: thin click commands that parse options and call the library.

One module per command or command group. Each command imports the library code it calls inside its own body:
`--help` and the listing commands then load only what they run, never a model backend such as diffusers
(tests/unit/test_fast_commands.py checks this).
"""

from ddmd_bench.cli import (  # noqa: F401  (importing a module registers its commands on `main`)
    ablation, doctor, evaluate, export, leaderboard, methods, prompts, report, stats, train,
)
from ddmd_bench.cli._app import failure_message, main

__all__ = ["failure_message", "main"]
