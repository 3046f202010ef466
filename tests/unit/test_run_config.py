"""`--config run.toml` sets a command's options as its flags would: the same request, command-line flags win,
unknown keys are refused with the valid ones listed, and the file's text and sha256 go into the record."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.cli._app import config_keys, read_run_config, run_config_option, run_config_record

MODEL = "teacher:steps=1,guidance=1"


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@click.command()
@run_config_option
@click.option("--limit", type=click.IntRange(min=1))
@click.option("--model", "models", multiple=True)
@click.option("--batch-size", type=int, default=96)
@click.option("--data", "data_files", multiple=True)
@click.option("--quiet", is_flag=True)
def probe(limit, models, batch_size, data_files, quiet):
    """Echoes what it received, as `evaluate` would receive it."""
    click.echo(json.dumps({"limit": limit, "models": list(models), "batch_size": batch_size,
                           "data": list(data_files), "quiet": quiet, "config": run_config_record()}))


def _probe(tmp_path: Path, toml: str, *args: str):
    (tmp_path / "run.toml").write_text(toml)
    return CliRunner().invoke(probe, ["--config", str(tmp_path / "run.toml"), *args])


def test_a_config_gives_the_options_their_flag_values(tmp_path):
    out = _probe(tmp_path, 'limit = 8\nmodel = "a"\nbatch_size = 4\nquiet = true\n'
                           '[data]\ncaptions = "c.txt"\nreference_stats = "s.npz"\n')
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    flags = CliRunner().invoke(probe, ["--limit", "8", "--model", "a", "--batch-size", "4", "--quiet",
                                       "--data", "captions=c.txt", "--data", "reference_stats=s.npz"])
    assert {k: v for k, v in got.items() if k != "config"} == \
        {k: v for k, v in json.loads(flags.stdout).items() if k != "config"}
    text = (tmp_path / "run.toml").read_text()
    assert got["config"] == {"path": str(tmp_path / "run.toml"), "text": text,
                             "sha256": hashlib.sha256(text.encode()).hexdigest()}


def test_command_line_flags_override_the_config(tmp_path):
    out = _probe(tmp_path, 'limit = 8\nmodel = ["a", "b"]\nbatch-size = 4\n', "--limit", "3", "--model", "c")
    got = json.loads(out.stdout)
    assert (got["limit"], got["models"], got["batch_size"]) == (3, ["c"], 4)


def test_unknown_keys_and_bad_values_are_refused_with_the_valid_keys(tmp_path):
    out = _probe(tmp_path, "limit = 8\nbach_size = 4\n")
    assert out.exit_code == 2
    assert "unknown key 'bach_size'" in out.output
    assert "valid keys: batch-size, data, limit, model, quiet" in " ".join(out.output.split())
    out = _probe(tmp_path, "limit = 0\n")  # the option's own check, as for --limit 0
    assert out.exit_code == 2 and "0 is not in the range x>=1" in out.output
    out = _probe(tmp_path, 'quiet = "yes"\n')
    assert out.exit_code == 2 and "'quiet' must be true or false" in out.output
    out = _probe(tmp_path, "limit = 8\nlimit =")
    assert out.exit_code == 2 and "not a TOML file" in out.output
    out = _probe(tmp_path, "limit = 8\nbatch-size = 1\nbatch_size = 2\n")
    assert out.exit_code == 2 and "a second time" in out.output


def test_keys_cover_every_option_of_evaluate_and_train():
    from ddmd_bench.cli.evaluate import evaluate
    from ddmd_bench.cli.train import train

    keys = config_keys(evaluate)
    assert {"protocol", "model", "limit", "batch-size", "batch_size", "no-leaderboard", "data"} <= set(keys)
    assert "config" not in keys and "help" not in keys
    for name in ("teacher", "toy-ddmd-4step"):
        command = train.get_command(click.Context(train), name)
        assert any(p.name == "run_config" for p in command.params), name
        assert "steps" in config_keys(command) or "set" in config_keys(command)


def test_a_table_of_a_key_value_option_becomes_its_items(tmp_path):
    from ddmd_bench.cli.train import train

    preset = train.get_command(click.Context(train), "toy-ddmd-4step")
    (tmp_path / "run.toml").write_text('out = "runs/x"\n[set]\nsteps = 100\nlora_rank = 0\nloss.guidance = 2.5\n'
                                       'loss.schedule = "shifted"\n')
    values = read_run_config(tmp_path / "run.toml", preset).values
    assert values == {"out": "runs/x",
                      "overrides": ["steps=100", "lora_rank=0", "loss.guidance=2.5", "loss.schedule=shifted"]}
    from ddmd_bench.training.run import parse_overrides  # what --set KEY=VALUE items become

    assert parse_overrides(tuple(values["overrides"])) == {"steps": 100, "lora_rank": 0, "loss.guidance": 2.5,
                                                           "loss.schedule": "shifted"}


def test_train_refuses_an_unknown_key_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text('out = "runs/x"\nlearning_rate = 3\n')
    out = _invoke("train", "toy-ddmd-4step", "--config", "run.toml")
    assert out.exit_code == 2
    assert "unknown key 'learning_rate' for `toy-ddmd-4step`" in out.output and "valid keys:" in out.output
    assert not (tmp_path / "runs").exists()


def _without_timings(plan: dict) -> dict:
    """A dry-run plan less the cost it measured on the machine (a timing differs from call to call)."""
    timed = ("seconds_per_denoiser_call", "cost_source", "estimated_generation_s", "estimated_latency_s")
    return {**plan, "generators": [{k: v for k, v in g.items() if k not in timed} for g in plan["generators"]]}


@pytest.fixture
def few_fid_bootstraps(monkeypatch):
    from ddmd_bench.tracks.toy import track

    monkeypatch.setattr(track, "FID_BOOTSTRAP", 10)


def test_evaluate_with_a_config_equals_its_flags_and_records_the_file(tmp_path, monkeypatch, few_fid_bootstraps):
    monkeypatch.chdir(tmp_path)
    toml = (f'model = "{MODEL}"\nlimit = 8\nbatch_size = 8\nquiet = true\njson = true\n'
            f'results-dir = "res"\nleaderboard_dir = "lb"\n')
    (tmp_path / "run.toml").write_text(toml)
    flags = ["--model", MODEL, "--limit", "8", "--batch-size", "8", "--quiet", "--json", "--results-dir", "res",
             "--leaderboard-dir", "lb"]
    plan_config = _invoke("evaluate", "--config", "run.toml", "--dry-run")
    plan_flags = _invoke("evaluate", *flags, "--dry-run")
    assert plan_config.exit_code == 0, plan_config.output
    assert _without_timings(json.loads(plan_config.stdout)) == _without_timings(json.loads(plan_flags.stdout))
    overridden = _invoke("evaluate", "--config", "run.toml", "--dry-run", "--limit", "5")
    assert json.loads(overridden.stdout)["images_per_generator"] == 5

    out = _invoke("evaluate", "--config", "run.toml")
    assert out.exit_code == 0, out.output
    [path] = (tmp_path / "res").rglob("*.json")
    record = json.loads(path.read_text())
    assert record["run_config"] == {"path": "run.toml", "text": toml,
                                    "sha256": hashlib.sha256(toml.encode()).hexdigest()}
    [entry] = [json.loads(line) for line in next((tmp_path / "lb").glob("*.jsonl")).read_text().splitlines()[1:]]
    assert entry["record"]["run_config"]["sha256"] == record["run_config"]["sha256"]


def test_train_with_a_config_keeps_the_file_in_its_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toml = 'steps = 1\nout = "runs/classifier"\n'
    (tmp_path / "train.toml").write_text(toml)
    out = _invoke("train", "classifier", "--config", "train.toml")
    assert out.exit_code == 0, out.output
    want = {"path": "train.toml", "text": toml, "sha256": hashlib.sha256(toml.encode()).hexdigest()}
    assert json.loads((tmp_path / "runs" / "classifier" / "run-config.json").read_text()) == want
    assert json.loads(out.stdout[out.stdout.index("{"):])["run_config"] == want
