"""`ddmd-bench train`."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

import click

from ddmd_bench.cli._app import main, run_config_option, run_config_record
from ddmd_bench.registry import unknown_name_message


class _TrainGroup(click.Group):
    """`train` subcommands are the toy track's own models plus every distillation preset (presets.py)."""

    def list_commands(self, ctx):
        from ddmd_bench.tracks.toy.presets import DISTILL_PRESETS

        return super().list_commands(ctx) + DISTILL_PRESETS.names()

    def get_command(self, ctx, name):
        from ddmd_bench.tracks.toy.presets import DISTILL_PRESETS

        command = super().get_command(ctx, name)
        if command is None and name in DISTILL_PRESETS:
            return _preset_command(name)
        return command

    def resolve_command(self, ctx, args):
        if args and self.get_command(ctx, args[0]) is None and not args[0].startswith("-"):
            raise click.UsageError(unknown_name_message("training preset or model", args[0],
                                                        self.list_commands(ctx)))
        return super().resolve_command(ctx, args)


@main.group(cls=_TrainGroup)
def train() -> None:
    """Train models: distillation presets (Decoupled DMD, DMD2, ablations) and the toy track's own models.

    \b
    Examples:
      ddmd-bench train toy-ddmd-4step                       # Decoupled DMD, 4-step toy student
      ddmd-bench train toy-dmd-4step --set loss.guidance=2  # DMD2 baseline with another CFG scale
      ddmd-bench train toy-ddmd-4step --ship                # add the student to the default leaderboard
      ddmd-bench train toy-ddmd-4step --config distill.toml # options from a TOML file (docs/api.md); flags win
      ddmd-bench train teacher --track toy --out runs/toy-teacher --ship
    Re-running the same command resumes from the last checkpoint in --out.
    """


def _preset_command(preset: str) -> click.Command:
    from ddmd_bench.tracks.toy.presets import get_preset

    cfg = get_preset(preset)

    @click.command(name=preset, help=f"Distil with preset {preset}: schedule {cfg.loss.schedule}, "
                   f"normalisation {cfg.loss.normalization}, terms {cfg.loss.terms}, guidance {cfg.loss.guidance:g}, "
                   f"{cfg.student_steps}-step student, {cfg.steps} updates.")
    @run_config_option
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Run folder (default runs/<preset>). Re-running the same command resumes.")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override a config field, e.g. --set loss.guidance=2 --set lora_rank=0 --set steps=100.")
    @click.option("--prompts", type=click.Path(exists=True, dir_okay=False), default=None,
                  help="Training prompts file (diffusers teachers; the toy track uses its world's captions).")
    @click.option("--ship", is_flag=True, help="Copy the EMA student into the package (toy presets).")
    @click.option("--ship-last-good", is_flag=True,
                  help="If the run diverges, ship the last good checkpoint (the divergence is recorded).")
    @click.option("--force", is_flag=True,
                  help="With --ship: replace a student that is already shipped (and its manifest entry).")
    @click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads.")
    @click.option("--parallel", type=click.Choice(["ddp", "fsdp"]), default="ddp", show_default=True,
                  help="Under torchrun: replicate the models (DDP) or shard them (FSDP, for models that do not fit "
                       "on one GPU). Same update either way.")
    @click.option("--quiet", is_flag=True, help="No progress reports (step, loss, step time, ETA) on stderr.")
    def command(out, overrides, prompts, ship, ship_last_good, force, threads, parallel, quiet):
        import torch  # heavy backend: only when training runs

        from ddmd_bench.tracks.toy.distill import run_preset
        from ddmd_bench.training.run import parse_overrides
        from ddmd_bench.utils import progress

        if threads:
            torch.set_num_threads(threads)
        logging.getLogger("ddmd_bench").setLevel(logging.INFO)
        out = out or Path("runs") / preset
        config = _keep_run_config(out)
        try:
            with progress.quieted(quiet):
                info = run_preset(preset, out, parse_overrides(overrides), prompts, ship,
                                  "ddmd-bench " + " ".join(shlex.quote(a) for a in sys.argv[1:]), ship_last_good,
                                  parallel, force=force)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(json.dumps({**info, **config}, indent=1, default=str))

    return command


def _train_command(name: str, help_text: str):
    @train.command(name=name, help=help_text)
    @run_config_option
    @click.option("--track", type=click.Choice(["toy"]), default="toy", show_default=True, help="Which track.")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Run folder (default runs/toy-<name>). Re-running the same command resumes.")
    @click.option("--steps", type=click.IntRange(min=1), default=None, help="Override the number of steps.")
    @click.option("--ship", is_flag=True, help="Copy the result into the package and update the weights manifest.")
    @click.option("--force", is_flag=True, help="With --ship: replace the shipped model (and its manifest entry).")
    @click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads.")
    @click.option("--quiet", is_flag=True, help="No progress reports (step, loss, step time, ETA) on stderr.")
    def command(track, out, steps, ship, force, threads, quiet):
        import torch  # heavy backend: only when training runs

        from ddmd_bench.tracks.toy.model_training import TRAINERS
        from ddmd_bench.utils import progress

        if threads:
            torch.set_num_threads(threads)
        logging.getLogger("ddmd_bench").setLevel(logging.INFO)
        out = out or Path("runs") / f"toy-{name}"
        config = _keep_run_config(out)
        try:
            with progress.quieted(quiet):
                info = TRAINERS[name](out, steps, ship, force=force)
        except ValueError as exc:  # a refused --ship (the file exists and --force is not given)
            raise click.ClickException(str(exc)) from exc
        click.echo(json.dumps({**info, **config}, indent=1, default=str))

    return command


def _keep_run_config(out: Path) -> dict[str, dict[str, str]]:
    """The `--config` file of this invocation, written into the run folder as run-config.json (path, sha256, text)
    before training starts; returns {"run_config": ...} for the command's output, or {} without --config."""
    record = run_config_record()
    if record is None:
        return {}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "run-config.json.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(out / "run-config.json")
    return {"run_config": record}


_train_command("teacher", "Train the toy teacher (flow-matching SD3-style transformer, ~50 CPU-minutes).")
_train_command("classifier", "Train the toy attribute classifier (prompt accuracy, toy FID features).")
_train_command("clip", "Train the toy CLIP model (open_clip custom config) for the toy CLIP score.")
_train_command("reward", "Train the toy reward model (ImageReward architecture) on synthetic preferences.")
