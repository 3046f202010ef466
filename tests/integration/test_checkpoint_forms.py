"""Every form of checkpoint through `ddmd-bench evaluate`, on tiny SD1.5 components in the layout of the real ones,
in a local HF cache read offline: a hub pipeline at a revision, a student UNet (file or folder) or a LoRA on a base,
a published recipe with the user's student, and training runs (`--run`) against their exports. Each record names
its sources (commit, files, scale) and their sha256; other bytes are another identity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ddmd_bench import hashing
from ddmd_bench.cli import main
from ddmd_bench.evaluation import records
from ddmd_bench.protocols import PROTOCOLS
from tests import factories as T
from tests.recipes.hub import _base_writer, _write_lora

REPO = "myorg/tiny-sd15"
RECIPE = "dmd2-sd15-1step"
RECIPE_BASE = "stable-diffusion-v1-5/stable-diffusion-v1-5"
# a few-step sampling of the tiny base that the whole module shares: 2 Euler steps without CFG, at the protocol's 16 px
SAMPLING = ("--steps", "2", "--guidance", "1", "--resolution", "16")


def _euler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  timestep_spacing="trailing")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The cache: REPO at main and at tag v1 (another commit, whose UNet differs), and the recipe's SD1.5 base."""
    root = tmp_path_factory.mktemp("hf-cache")
    cache = T.HubCache(root)
    main_commit = cache.add(REPO, lambda folder: T.sd15(folder, _euler()))
    repo = root / f"models--{REPO.replace('/', '--')}"
    v1_commit = "1" * 40
    shutil.copytree(repo / "snapshots" / main_commit, repo / "snapshots" / v1_commit)
    shutil.rmtree(repo / "snapshots" / v1_commit / "unet")
    torch.manual_seed(5)
    T.sd15_unet().save_pretrained(repo / "snapshots" / v1_commit / "unet")
    (repo / "refs" / "v1").write_text(v1_commit)
    cache.add(RECIPE_BASE, _base_writer(RECIPE_BASE, "StableDiffusionPipeline", None))
    return {"root": root, "main": main_commit, "v1": v1_commit}


@pytest.fixture(autouse=True)
def offline_cache(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(hub["root"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if T.RECIPE_CHECK_PROTOCOL not in PROTOCOLS:
        PROTOCOLS.add(T.RECIPE_CHECK_PROTOCOL, T.recipe_check_protocol)


def evaluate(results: Path, *args: str):
    """`evaluate --json` on the test protocol; (exit code, summary or output, {name: record})."""
    result = CliRunner().invoke(main, ["evaluate", "--protocol", T.RECIPE_CHECK_PROTOCOL, "--batch-size", "5",
                                       "--results-dir", str(results), "--no-leaderboard", "--quiet", "--json",
                                       *args])
    if result.exit_code != 0:
        return result.exit_code, result.output, {}
    summary = json.loads(result.stdout)
    found = {}
    for row in summary["results"]:
        [path] = results.rglob(f"{records.slug(row['name'])}.json")
        found[row["name"]] = json.loads(path.read_text())
    return 0, summary, found


def metric_values(record: dict) -> dict:
    return {name: m["value"] for name, m in record["metrics"].items() if name != "latency"}


@pytest.fixture(scope="module")
def base_run(hub, tmp_path_factory):
    """The hub pipeline at main, sampled with SAMPLING."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_CACHE", str(hub["root"]))
    mp.setenv("HF_HUB_OFFLINE", "1")
    if T.RECIPE_CHECK_PROTOCOL not in PROTOCOLS:
        PROTOCOLS.add(T.RECIPE_CHECK_PROTOCOL, T.recipe_check_protocol)
    try:
        code, summary, found = evaluate(tmp_path_factory.mktemp("base"), "--pipeline", REPO, *SAMPLING)
    finally:
        mp.undo()
    assert code == 0, summary
    [record] = found.values()
    return record


def test_hub_pipeline_records_the_commit_its_revision_resolves_to(hub, base_run, tmp_path):
    files = base_run["generator"]["files"]["base"]
    assert files["repo"] == REPO and files["commit"] == hub["main"]
    assert base_run["generator"]["name"].startswith(f"pipeline:{REPO}@{hub['main'][:8]}")
    assert base_run["generator"]["recipe"]["base"] == {"repo_id": REPO, "revision": None, "local": None}
    unet = next(f for f in files["files"] if f["path"] == "unet/diffusion_pytorch_model.safetensors")
    snapshot = hub["root"] / f"models--{REPO.replace('/', '--')}" / "snapshots" / hub["main"]
    assert unet["sha256"] == hashing.file_sha256(snapshot / unet["path"])

    code, summary, found = evaluate(tmp_path, "--pipeline", REPO, "--revision", "v1", *SAMPLING)
    assert code == 0, summary
    [record] = found.values()
    assert record["generator"]["files"]["base"]["commit"] == hub["v1"]
    assert record["generator"]["recipe"]["base"]["revision"] == "v1"
    assert record["generator"]["name"].startswith(f"pipeline:{REPO}@{hub['v1'][:8]}")
    assert metric_values(record) != metric_values(base_run)  # the other commit's UNet made other images


def test_a_repository_missing_offline_names_the_download(tmp_path):
    code, output, _ = evaluate(tmp_path, "--pipeline", "myorg/not-cached", *SAMPLING)
    assert code == 1 and "Traceback" not in output
    assert "hf download myorg/not-cached" in output and "HF_HUB_OFFLINE=1" in output
    assert not list(tmp_path.rglob("*.json"))


def _student_file(path: Path, seed: int = 1) -> Path:
    torch.manual_seed(seed)
    net = T.sd15_unet()
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def test_student_file_and_folder_on_a_hub_base(hub, base_run, tmp_path):
    student = _student_file(tmp_path / "my_unet.safetensors")
    code, summary, found = evaluate(tmp_path / "r1", "--base", REPO, "--student", str(student), *SAMPLING)
    assert code == 0, summary
    [(name, record)] = found.items()
    sha = hashing.file_sha256(student)
    assert name.startswith(f"{REPO}@{hub['main'][:8]}+student:my_unet@") and name.endswith("[steps=2,guidance=1.0,"
                                                                                          "resolution=16]")
    gen = record["generator"]
    assert gen["files"]["base"]["commit"] == hub["main"] and gen["files"]["student"]["sha256"] == sha
    assert gen["files"]["student"]["format"] == "safetensors"
    assert gen["recipe"]["student"]["kind"] == "unet" and gen["recipe"]["student"]["filename"] == student.name
    assert gen["recipe"]["student"]["repo"]["local"] == str(tmp_path)
    assert metric_values(record) != metric_values(base_run)  # the student's weights, not the base UNet's

    folder = tmp_path / "my_unet"
    torch.manual_seed(1)
    T.sd15_unet().save_pretrained(folder)  # the same weights as a diffusers model folder
    code, summary, found = evaluate(tmp_path / "r2", "--base", REPO, "--student", str(folder), *SAMPLING)
    assert code == 0, summary
    [other] = found.values()
    student_files = other["generator"]["files"]["student"]
    assert student_files["format"] == "diffusers-folder"
    assert {f["path"] for f in student_files["files"]} == {"config.json", "diffusion_pytorch_model.safetensors"}
    assert metric_values(other) == metric_values(record)  # same weights, same images


def test_lora_on_a_local_base_records_file_and_scale(tmp_path):
    base = tmp_path / "base"
    T.sd15(base, _euler())
    lora = tmp_path / "lora" / "my_lora.safetensors"
    _write_lora(lora, "StableDiffusionPipeline")
    code, summary, found = evaluate(tmp_path / "r", "--base", str(base), "--lora", str(lora), "--lora-scale",
                                    "0.5", *SAMPLING)
    assert code == 0, summary
    [(name, record)] = found.items()
    gen = record["generator"]
    assert "+lora:my_lora@" in name and "x0.5" in name
    assert gen["recipe"]["student"]["kind"] == "lora" and gen["recipe"]["student"]["lora_scale"] == 0.5
    assert gen["recipe"]["base"]["local"] == str(base) and gen["files"]["base"]["commit"] is None
    assert gen["files"]["student"]["sha256"] == hashing.file_sha256(lora)
    assert gen["files"]["base"]["content_sha256"]


def test_lora_on_a_student_is_fused_into_the_student_and_both_files_are_the_identity(tmp_path):
    from safetensors.torch import load_file, save_file

    from ddmd_bench.generators import checkpoints, pipelines
    from ddmd_bench.generators.settings import RunSettings

    student = _student_file(tmp_path / "my_unet.safetensors", seed=4)
    lora = tmp_path / "lora" / "style.safetensors"
    _write_lora(lora, "StableDiffusionPipeline")  # rank 2, alpha 2: the update is B @ A, times the scale
    spec = checkpoints.CheckpointSpec(base=REPO, student=str(student), lora=str(lora), lora_scale=0.5)
    settings = RunSettings(device="cpu", dtype="float32")
    unet = pipelines.load(pipelines.prepare(checkpoints.checkpoint_recipe(spec, settings), settings), settings).unet
    got, want, update = unet.state_dict(), load_file(student), load_file(lora)
    layers = [k.removeprefix("unet.").removesuffix(".lora_A.weight") for k in update if k.endswith(".lora_A.weight")]
    assert layers
    for layer in layers:  # W = W_student + 0.5 * B @ A, in diffusers' own fused weights
        delta = update[f"unet.{layer}.lora_B.weight"] @ update[f"unet.{layer}.lora_A.weight"]
        torch.testing.assert_close(got[f"{layer}.weight"], want[f"{layer}.weight"] + 0.5 * delta)
    assert all(torch.equal(got[k], want[k]) for k in want if k.removesuffix(".weight") not in layers)

    args = ("--base", REPO, "--student", str(student), "--lora", str(lora), "--lora-scale", "0.5", *SAMPLING)
    code, summary, found = evaluate(tmp_path / "r", *args)
    assert code == 0, summary
    [(name, first)] = found.items()
    assert name.startswith(f"{REPO}@") and "+student:my_unet@" in name and "+lora:style@" in name and "x0.5" in name
    gen = first["generator"]
    assert gen["files"]["student"]["sha256"] == hashing.file_sha256(student)
    assert gen["files"]["lora"]["sha256"] == hashing.file_sha256(lora)
    assert gen["recipe"]["student"]["kind"] == "unet"
    assert gen["recipe"]["lora"]["kind"] == "lora" and gen["recipe"]["lora"]["lora_scale"] == 0.5
    seen = {hashing.identity_digest(gen)}
    for changed in (lora, student):  # other bytes of either file, under the same --name: never a stale reuse
        save_file({k: (v * 1.5).contiguous() for k, v in load_file(changed).items()}, str(changed))
        code, summary, found = evaluate(tmp_path / "r", *args, "--name", "mine")
        assert code == 0 and summary["reused"] == [], summary
        seen.add(hashing.identity_digest(found["mine"]["generator"]))
    assert len(seen) == 3


def test_recipe_keeps_its_sampler_with_the_users_student_or_lora(hub, tmp_path):
    student = _student_file(tmp_path / "distilled.safetensors", seed=3)
    code, summary, found = evaluate(tmp_path / "r", "--method", RECIPE, "--student", str(student),
                                    "--resolution", "16")
    assert code == 0, summary
    [(name, record)] = found.items()
    gen, trace = record["generator"], record["trace"]
    assert name.startswith(f"{RECIPE}+student:distilled@")
    assert trace["scheduler"] == "LCMScheduler" and trace["timesteps"] == [999.0]  # the recipe's one step at 999
    assert trace["denoiser_calls"] == 1 and trace["batch_per_image"] == [1.0]  # guidance 0: no CFG
    assert gen["recipe"]["guidance"] == 0.0 and gen["recipe"]["steps"] == 1
    assert gen["files"]["base"]["repo"] == RECIPE_BASE and gen["files"]["base"]["commit"]
    assert gen["files"]["student"]["sha256"] == hashing.file_sha256(student)
    assert gen["recipe"]["student"]["repo"]["local"] == str(tmp_path)  # the published student is not loaded

    lora = tmp_path / "lora" / "my_lora.safetensors"
    _write_lora(lora, "StableDiffusionPipeline")
    code, summary, found = evaluate(tmp_path / "r2", "--method", RECIPE, "--lora", str(lora), "--resolution", "16")
    assert code == 0, summary
    [(name, record)] = found.items()
    assert name.startswith(f"{RECIPE}+lora:my_lora@") and record["trace"]["timesteps"] == [999.0]
    assert record["generator"]["recipe"]["student"]["kind"] == "lora"
    assert record["generator"]["files"]["student"]["sha256"] == hashing.file_sha256(lora)


def test_other_student_bytes_are_another_identity_under_the_same_name(tmp_path):
    student = _student_file(tmp_path / "unet.safetensors", seed=1)
    args = ("--base", REPO, "--student", str(student), "--name", "my-student", *SAMPLING)
    code, first, found = evaluate(tmp_path / "r", *args)
    assert code == 0, first
    assert [r["name"] for r in first["results"]] == ["my-student"]
    before = found["my-student"]
    code, again, _ = evaluate(tmp_path / "r", *args)
    assert code == 0 and again["reused"] == ["my-student"]  # same bytes: the finished result stands

    _student_file(student, seed=2)
    code, changed, found = evaluate(tmp_path / "r", *args)
    assert code == 0, changed
    after = found["my-student"]
    assert changed["reused"] == []  # not a stale reuse
    assert after["generator"]["files"]["student"]["sha256"] == hashing.file_sha256(student) \
        != before["generator"]["files"]["student"]["sha256"]
    assert hashing.identity_digest(after["generator"]) != hashing.identity_digest(before["generator"])
    assert metric_values(after) != metric_values(before)


# ------------------------------------------------------------------------------------------------ training runs

def _export(run: Path, out: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_toy_run_evaluates_like_its_export(tmp_path):
    from ddmd_bench.tracks.toy.distill import run_preset

    run = tmp_path / "toy-run"
    run_preset("toy-ddmd-4step", run, {"steps": 2, "batch_size": 2, "warmup_steps": 1, "lr": 1e-2})
    _export(run, tmp_path / "exported")
    code, summary, from_run = evaluate(tmp_path / "r1", "--run", str(run))
    assert code == 0, summary
    code, summary, from_export = evaluate(tmp_path / "r2", "--run", str(tmp_path / "exported"))
    assert code == 0, summary
    [(run_name, a)], [(export_name, b)] = from_run.items(), from_export.items()
    sha = hashing.file_sha256(run / "student.safetensors")
    assert run_name == f"run:toy-run@{sha[:8]}" and export_name == f"run:exported@{sha[:8]}"
    assert a["generator"]["student"]["sha256"] == b["generator"]["student"]["sha256"] == sha
    assert a["generator"]["steps"] == 4 and a["generator"]["scheduler"]["name"] == "flow-dmd"
    assert metric_values(a) == metric_values(b)
    code, summary, shipped = evaluate(tmp_path / "r3", "--model", "ddmd-4step")
    assert code == 0, summary
    assert metric_values(next(iter(shipped.values()))) != metric_values(a)  # the run's student, not the shipped one
    # diffusers-only run settings would be silently ignored by the toy sampler: refused by name, nothing written
    for flags in (("--dtype", "float16"), ("--offload", "model"), ("--vae-tiling",)):
        code, output, _ = evaluate(tmp_path / "r4", "--run", str(run), *flags)
        assert code == 1 and f"{flags[0]} cannot be applied" in " ".join(output.split()), output
        assert not list((tmp_path / "r4").rglob("*.json"))
    code, summary, _ = evaluate(tmp_path / "r1", "--run", str(run), "--dtype", "float32")  # what it samples in
    assert code == 0 and summary["reused"] == [run_name], summary


def test_diffusers_run_evaluates_like_its_export(tmp_path):
    from ddmd_bench.training.config import DistillConfig
    from ddmd_bench.training.losses import DMDLossConfig
    from ddmd_bench.training.trainer import Trainer

    T.tiny_sd_pipeline(tmp_path / "tok").save_pretrained(tmp_path / "teacher")
    (tmp_path / "prompts.txt").write_text("a red cat\na blue dog\n")
    cfg = DistillConfig(teacher=str(tmp_path / "teacher"), loss=DMDLossConfig(guidance=2.0), student_steps=2,
                        steps=2, batch_size=2, lora_rank=4, save_every=10, lr=3e-3, lr_fake=1e-4,
                        warmup_steps=1, divergence_std=1e6)
    run = tmp_path / "sd-run"
    Trainer(cfg, run, prompts=str(tmp_path / "prompts.txt")).run()
    _export(run, tmp_path / "exported")

    code, summary, from_run = evaluate(tmp_path / "r1", "--run", str(run), "--resolution", "16")
    assert code == 0, summary
    code, summary, from_export = evaluate(tmp_path / "r2", "--pipeline", str(tmp_path / "exported"),
                                          "--resolution", "16")
    assert code == 0, summary
    [(name, a)], [b] = from_run.items(), from_export.values()
    assert name.startswith(f"run:sd-run@{hashing.file_sha256(run / 'student.safetensors')[:8]}")
    assert a["generator"]["recipe"]["steps"] == 2 and a["generator"]["recipe"]["guidance"] == 1.0
    assert a["generator"]["files"]["base"]["content_sha256"] == b["generator"]["files"]["base"]["content_sha256"]
    assert a["trace"]["timesteps"] == b["trace"]["timesteps"]
    assert metric_values(a) == metric_values(b)

    stamp = (run / "pipeline" / "export.json").stat().st_mtime_ns
    code, summary, _ = evaluate(tmp_path / "r1", "--run", str(run), "--resolution", "16")
    assert code == 0 and summary["reused"] == [name]
    assert (run / "pipeline" / "export.json").stat().st_mtime_ns == stamp  # the run's export is made once
    code, output, _ = evaluate(tmp_path / "r3", "--run", str(tmp_path / "exported"))
    assert code == 1 and f"--pipeline {tmp_path / 'exported'}" in output  # an export is a pipeline, not a run
