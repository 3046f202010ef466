"""Checkpoint descriptions and the command line's refusals: a student or LoRA needs exactly one base, and a bad
combination is a usage error before anything is loaded or written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.generators.checkpoints import CheckpointError, CheckpointSpec, split_revision


def test_spec_text_form_round_trips():
    spec = CheckpointSpec(base="myorg/base", revision="v1", lora="/tmp/l.safetensors", lora_scale=0.5)
    assert CheckpointSpec.parse(spec.target()) == spec
    assert CheckpointSpec.parse(CheckpointSpec(method="dmd2-sdxl-4step", student="u.safetensors").target()) \
        == CheckpointSpec(method="dmd2-sdxl-4step", student="u.safetensors")
    both = CheckpointSpec(base="b", student="u.safetensors", lora="l.safetensors", lora_scale=0.5)  # LoRA on student
    assert CheckpointSpec.parse(both.target()) == both
    with pytest.raises(CheckpointError, match="not a checkpoint description"):
        CheckpointSpec.parse("{not json")


@pytest.mark.parametrize("fields, message", [
    ({"student": "u.safetensors"}, "needs one base"),
    ({"base": "a/b", "method": "dmd2-sdxl-4step", "student": "u"}, "needs one base"),
    ({"base": "a/b"}, "give --student FILE|DIR"),
    ({"method": "dmd2-sdxl-4step", "student": "u", "revision": "v1"}, "--revision names"),
    ({"base": "a/b", "student": "u", "lora_scale": 0.5}, "--lora-scale scales a --lora"),
])
def test_spec_refuses_what_does_not_combine(fields, message):
    with pytest.raises(CheckpointError, match=message):
        CheckpointSpec(**fields)


def test_split_revision(tmp_path):
    assert split_revision("myorg/model@v1.0") == ("myorg/model", "v1.0")
    assert split_revision("myorg/model") == ("myorg/model", None)
    folder = tmp_path / "a@b"
    folder.mkdir()
    assert split_revision(str(folder)) == (str(folder), None)  # a folder whose name holds '@' stays a folder


@pytest.mark.parametrize("args, message", [
    (["--lora", "{f}"], "needs one base"),
    (["--student", "{f}", "--pipeline", "myorg/base"], "not on a whole --pipeline"),
    (["--base", "myorg/base"], "--base is the pipeline under a --student or --lora"),
    (["--lora-scale", "0.5", "--method", "dmd2-sdxl-4step"], "--lora-scale scales a --lora"),
    (["--method", "dmd2-sdxl-4step", "--method", "sdxl-base", "--student", "{f}"], "one --base or one --method"),
    (["--base", "myorg/base", "--method", "sdxl-base", "--student", "{f}"], "one --base or one --method"),
    (["--method", "dmd2-sdxl-4step", "--method", "sdxl-base", "--name", "mine"], "this run has 2 generators"),
    (["--model", "teacher:steps=1", "--name", "mine"], "shipped models keep their names"),
    (["--name", "mine"], "this run has 0 generators"),
    (["--revision", "v1", "--method", "dmd2-sdxl-4step"], "--revision applies to one hub repository"),
    (["--revision", "v1", "--pipeline", "a/b@v2"], "--revision applies to one hub repository"),
    (["--method", "dmd2-sdxl-4step", "--student", "{f}", "--revision", "v1"], "--revision names"),
])
def test_bad_combinations_are_usage_errors_that_write_nothing(tmp_path, args, message):
    weights = tmp_path / "unet.safetensors"
    weights.write_bytes(b"not read")
    args = [a.replace("{f}", str(weights)) for a in args]
    result = CliRunner().invoke(main, ["evaluate", "--results-dir", str(tmp_path / "results"), "--leaderboard-dir",
                                       str(tmp_path / "lb"), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "results").exists() and not (tmp_path / "lb").exists()
    assert weights.read_bytes() == b"not read"


def test_dry_run_of_a_recipe_with_your_student_lists_only_the_base(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    student = tmp_path / "unet.safetensors"
    student.write_bytes(b"not read")
    result = CliRunner().invoke(main, ["evaluate", "--method", "dmd2-sdxl-4step", "--student", str(student),
                                       "--results-dir", str(tmp_path / "results"), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["download_plan"]
    assert plan["repos"] == ["stabilityai/stable-diffusion-xl-base-1.0"]  # the published student is not needed
    assert all(c.startswith("hf download stabilityai/stable-diffusion-xl-base-1.0 ") for c in plan["commands"])
