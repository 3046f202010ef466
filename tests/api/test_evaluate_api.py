"""`ddmd_bench.evaluate` runs what `ddmd-bench evaluate` runs: a pipeline object in memory gives the numbers the
command gives for the same pipeline's folder, its record holds the saved files' hashes, and the caller's pipeline
comes back untouched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import ddmd_bench
from ddmd_bench.cli import main
from tests import factories as T
from tests.factories import RECIPE_CHECK_PROTOCOL as PROTOCOL

pytestmark = pytest.mark.usefixtures("recipe_check")  # the protocol, with few FID bootstrap rounds


def _cli_record(tmp_path: Path, folder: Path) -> dict:
    out = CliRunner().invoke(main, ["evaluate", "--protocol", PROTOCOL, "--pipeline", str(folder), "--steps", "2",
                                    "--results-dir", str(tmp_path / "cli"), "--no-leaderboard", "--quiet", "--json"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    [path] = (tmp_path / "cli").rglob("*.json")
    return json.loads(path.read_text())


def test_a_pipeline_object_gives_the_command_lines_numbers(tmp_path):
    import diffusers

    folder = tmp_path / "pipeline"
    T.sd15(folder, diffusers.DDIMScheduler())
    cli = _cli_record(tmp_path, folder)

    pipe = diffusers.DiffusionPipeline.from_pretrained(folder)
    scheduler = pipe.scheduler
    evaluation = ddmd_bench.evaluate(pipe, PROTOCOL, steps=2, name="my-student", results_dir=tmp_path / "api",
                                     leaderboard_dir=tmp_path / "lb", progress=False)
    api = json.loads((tmp_path / "api" / evaluation.protocol.slug / "my-student.json").read_text())

    assert api["generator"]["name"] == "my-student"
    assert set(api["metrics"]) == set(cli["metrics"]) and len(api["metrics"]) > 3
    for name, metric in cli["metrics"].items():  # identical inputs, identical code path: identical numbers
        assert api["metrics"][name]["value"] == metric["value"], name
        assert api["metrics"][name].get("per_sample") == metric.get("per_sample"), name
    assert evaluation.values() == {name: m["value"] for name, m in cli["metrics"].items()}
    # the same recipe, and the saved copy's files hashed like the folder's own
    for key in ("recipe", "scheduler", "nfe"):
        want, have = cli["generator"][key], api["generator"][key]
        if key == "recipe":  # where the files lie and what the result is called differ, nothing else
            want = {k: v for k, v in want.items() if k not in ("name", "base", "sources")}
            have = {k: v for k, v in have.items() if k not in ("name", "base", "sources")}
        assert have == want, key
    files = {f["path"]: f["sha256"] for f in api["generator"]["files"]["base"]["files"]}
    assert files["unet/diffusion_pytorch_model.safetensors"] == \
        {f["path"]: f["sha256"] for f in cli["generator"]["files"]["base"]["files"]}[
            "unet/diffusion_pytorch_model.safetensors"]
    assert api["generator"]["settings"]["device"] == "cpu" and api["generator"]["settings"]["dtype"] == "float32"
    assert api["trace"]["denoiser_calls"] > 0
    # written like the command's: a record file and a leaderboard entry; the saved copy is gone afterwards
    assert evaluation.result.run_id == api["run_id"]
    assert evaluation.leaderboard is not None and evaluation.added == 1
    assert ddmd_bench.Leaderboard.open(evaluation.leaderboard).names == ["my-student"]
    assert not any((tmp_path / "api" / "in-memory").rglob("*.safetensors"))
    # the caller's pipeline keeps its scheduler and carries no hook of ours
    assert pipe.scheduler is scheduler
    assert not pipe.unet._forward_pre_hooks


def test_any_generator_object_is_evaluated(tmp_path):
    class Noise:
        """Seeded uniform noise at 16 px: a baseline any protocol can score."""

        name = "noise"
        nfe = 0

        def generate(self, prompts, seeds):
            return torch.stack([torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8,
                                              generator=torch.Generator().manual_seed(s)) for s in seeds])

        def describe(self):
            return {"name": self.name, "kind": "uniform noise", "size": 16}

    evaluation = ddmd_bench.evaluate(Noise(), PROTOCOL, results_dir=tmp_path / "r", leaderboard_dir=None,
                                     progress=False)
    assert evaluation.names == ["noise"]
    assert evaluation.result.generator == Noise().describe()
    again = ddmd_bench.evaluate(Noise(), PROTOCOL, results_dir=tmp_path / "r", leaderboard_dir=None, progress=False)
    assert again.reused == ("noise",) and again.values() == evaluation.values()


def test_models_are_named_as_the_command_line_names_them(tmp_path):
    from ddmd_bench.api.run import generator_name

    (tmp_path / "folder").mkdir()
    assert generator_name(tmp_path / "folder") == f"pipeline:{(tmp_path / 'folder').resolve()}"
    assert generator_name("myorg/my-distilled-sdxl", revision="v1") == "pipeline:myorg/my-distilled-sdxl@v1"
    assert generator_name("toy-teacher/euler-4/cfg3") == "toy-teacher/euler-4/cfg3"
    assert generator_name("teacher:steps=4,guidance=3") == "teacher:steps=4,guidance=3"
    assert generator_name("method:dmd2-sdxl-4step") == "method:dmd2-sdxl-4step"
    with pytest.raises(ValueError, match="revision"):
        generator_name("toy-teacher/euler-4/cfg3", revision="v1")


def test_importing_the_package_loads_no_backend():
    import subprocess

    code = "import sys, ddmd_bench; print(sorted({'torch', 'diffusers', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert {"evaluate", "Leaderboard", "Result"} <= set(dir(ddmd_bench))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ddmd_bench.nothing  # noqa: B018


def test_a_hub_id_resolves_through_the_cache_at_its_revision(tmp_path, monkeypatch):
    import diffusers

    cache = T.HubCache(tmp_path / "hf-cache")
    commit = cache.add("myorg/tiny-sd", lambda folder: T.sd15(folder, diffusers.DDIMScheduler()))
    repo = tmp_path / "hf-cache" / "models--myorg--tiny-sd"
    (repo / "refs" / "v1").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    evaluation = ddmd_bench.evaluate("myorg/tiny-sd", PROTOCOL, revision="v1", steps=2, name="tiny-sd-v1",
                                     results_dir=tmp_path / "r", leaderboard_dir=None, progress=False)
    generator = evaluation.result.generator
    assert generator["name"] == "tiny-sd-v1"
    assert generator["files"]["base"]["repo"] == "myorg/tiny-sd" and generator["files"]["base"]["commit"] == commit
    assert generator["recipe"]["base"]["revision"] == "v1"
