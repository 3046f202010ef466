"""Recipes on bad input (each a specific error before any image is generated), batch-size invariance, and the
generic recipe on plain diffusers folders and on students exported by our trainer."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.recipes import get_recipe
from ddmd_bench.generators.diffusers import DiffusersGenerator
from ddmd_bench.generators.settings import RunSettings
from tests import factories as T
from tests.recipes.hub import build_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf-cache")
    build_hub(root, only=("dmd2-sdxl-4step", "dmd2-sdxl-1step", "sdxl-lightning-4step", "hyper-sd15-4step-lora",
                          "flux1-schnell"))
    return root


@pytest.fixture
def offline_hub(hub, tmp_path, monkeypatch):
    """A private copy of the hub (tests damage it), selected through HF_HUB_CACHE, offline."""
    copy = tmp_path / "hub"
    shutil.copytree(hub, copy)
    monkeypatch.setenv("HF_HUB_CACHE", str(copy))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return copy


def _evaluate(tmp_path, *args):
    return CliRunner().invoke(main, ["evaluate", "--protocol", "toy-recipe-check", "--results-dir",
                                     str(tmp_path / "results"), "--no-leaderboard", "--quiet", *args])


def _snapshot(hub, repo_id):
    return next((hub / f"models--{repo_id.replace('/', '--')}" / "snapshots").iterdir())


def _nothing_generated(tmp_path):
    return not list((tmp_path / "results").rglob("chunk-*")) if (tmp_path / "results").exists() else True


def test_unknown_method_suggests_the_closest(tmp_path):
    result = _evaluate(tmp_path, "--method", "dmd2-sdxl-4stp")
    assert result.exit_code != 0 and "did you mean 'dmd2-sdxl-4step'" in result.output


def test_missing_lora_is_named_before_generation(offline_hub, tmp_path):
    (_snapshot(offline_hub, "ByteDance/Hyper-SD") / "Hyper-SD15-4steps-lora.safetensors").unlink()
    result = _evaluate(tmp_path, "--method", "hyper-sd15-4step-lora", "--resolution", "32")
    assert result.exit_code != 0 and "Hyper-SD15-4steps-lora.safetensors is missing (lora weights)" in result.output
    assert _nothing_generated(tmp_path)


def test_wrong_pipeline_class_is_refused(offline_hub, tmp_path):
    import diffusers

    base = _snapshot(offline_hub, "stabilityai/stable-diffusion-xl-base-1.0")
    shutil.rmtree(base)
    T.sd15(base, diffusers.DDIMScheduler())  # an SD1.5 pipeline where the SDXL base should be
    result = _evaluate(tmp_path, "--method", "sdxl-lightning-4step", "--resolution", "32")
    assert result.exit_code != 0
    assert "holds a StableDiffusionPipeline but the recipe needs a StableDiffusionXLPipeline" in result.output


def test_truncated_safetensors_is_refused(offline_hub, tmp_path):
    path = _snapshot(offline_hub, "ByteDance/SDXL-Lightning") / "sdxl_lightning_4step_unet.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = _evaluate(tmp_path, "--method", "sdxl-lightning-4step", "--resolution", "32")
    assert result.exit_code != 0 and "sdxl_lightning_4step_unet.safetensors is truncated" in result.output
    assert _nothing_generated(tmp_path)


def test_pickle_checkpoint_needs_explicit_permission(offline_hub, tmp_path):
    result = _evaluate(tmp_path, "--method", "dmd2-sdxl-1step", "--resolution", "32")
    assert result.exit_code != 0 and "is a pickle checkpoint" in result.output and "--allow-pickle" in result.output
    assert _nothing_generated(tmp_path)


def test_pipeline_with_remote_code_is_refused(offline_hub, tmp_path):
    base = _snapshot(offline_hub, "black-forest-labs/FLUX.1-schnell")
    index = json.loads((base / "model_index.json").read_text())
    index["transformer"] = ["my_package.models", "MyTransformer"]
    (base / "model_index.json").write_text(json.dumps(index))
    result = _evaluate(tmp_path, "--method", "flux1-schnell", "--resolution", "32")
    assert result.exit_code != 0 and "never enables trust_remote_code" in result.output


def test_missing_repository_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _evaluate(tmp_path, "--method", "sdxl-turbo")
    assert result.exit_code != 0
    assert "- stabilityai/sdxl-turbo (sdxl-turbo: base pipeline (component files not known offline)): " \
           "model_index.json, */*.json" in result.output
    assert "hf download stabilityai/sdxl-turbo --include model_index.json --include '*/*.json'" in result.output
    assert "HF_HUB_OFFLINE=1" in result.output


def test_every_missing_repository_of_a_recipe_is_named_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _evaluate(tmp_path, "--method", "dmd2-sdxl-4step")
    assert result.exit_code != 0
    assert "2 of 2 repositories miss 18 files" in result.output
    assert "hf download tianweiy/DMD2 dmd2_sdxl_4step_unet_fp16.safetensors" in result.output
    assert "hf download stabilityai/stable-diffusion-xl-base-1.0 model_index.json" in result.output
    assert "huggingface-cli" not in result.output


def _doctor(*args):
    return CliRunner().invoke(main, ["doctor", *args])


def test_doctor_lists_every_missing_repository_and_file_of_a_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _doctor("--method", "dmd2-sdxl-4step")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("2 of 2 repositories miss 18 files in the HF cache")
    student = lines.index("- tianweiy/DMD2 (dmd2-sdxl-4step: student unet): dmd2_sdxl_4step_unet_fp16.safetensors")
    assert lines[student + 1].strip() == "hf download tianweiy/DMD2 dmd2_sdxl_4step_unet_fp16.safetensors"
    assert lines[student + 2].strip() == (f"lands in {tmp_path / 'empty-cache'}/models--tianweiy--DMD2/snapshots/"
                                          f"<commit>")
    base = next(i for i, line in enumerate(lines) if line.startswith("- stabilityai/stable-diffusion-xl-base-1.0"))
    command = lines[base + 1].strip().split()
    assert command[:3] == ["hf", "download", "stabilityai/stable-diffusion-xl-base-1.0"]
    assert {"model_index.json", "unet/config.json", "vae/diffusion_pytorch_model.fp16.safetensors"} <= set(command)
    assert not any(f.startswith("unet/diffusion_pytorch_model") for f in command)  # the student replaces the UNet
    as_json = json.loads(_doctor("--method", "dmd2-sdxl-4step", "--json").output)
    assert as_json["complete"] is False and len(as_json["missing"]) == 2
    assert " ".join(command) in as_json["commands"]


def test_doctor_passes_when_the_cache_holds_every_file(offline_hub):
    base = _snapshot(offline_hub, "stabilityai/stable-diffusion-xl-base-1.0")
    for folder in ("tokenizer", "tokenizer_2"):  # the tiny tokenizers are saved as tokenizer.json alone; the hub's
        for name in ("merges.txt", "special_tokens_map.json", "vocab.json"):  # SDXL tokenizers ship these files
            (base / folder / name).touch()
    result = _doctor("--method", "dmd2-sdxl-4step")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("every file of 2 repositories is in the HF cache")
    (_snapshot(offline_hub, "tianweiy/DMD2") / "dmd2_sdxl_4step_unet_fp16.safetensors").unlink()
    result = _doctor("--method", "dmd2-sdxl-4step", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["missing"][0]["missing"] == ["dmd2_sdxl_4step_unet_fp16.safetensors"]


def test_doctor_names_an_unknown_recipe():
    result = _doctor("--method", "dmd2-sdxl-4stp")
    assert result.exit_code != 0 and "did you mean 'dmd2-sdxl-4step'" in result.output


def test_dry_run_lists_the_downloads_instead_of_failing(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _evaluate(tmp_path, "--method", "dmd2-sdxl-4step", "--guidance", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "hf download tianweiy/DMD2 dmd2_sdxl_4step_unet_fp16.safetensors" in result.output
    assert "(dmd2-sdxl-4step[guidance=2.0]: base pipeline)" in result.output  # the recipe after the overrides
    plan = json.loads(_evaluate(tmp_path, "--method", "dmd2-sdxl-4step", "--dry-run", "--json").stdout)
    assert plan["download_plan"]["repos"] == ["stabilityai/stable-diffusion-xl-base-1.0", "tianweiy/DMD2"]


def test_dry_run_with_every_file_present_shows_the_usual_plan(offline_hub, tmp_path):
    result = _evaluate(tmp_path, "--method", "dmd2-sdxl-4step", "--resolution", "32", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dmd2-sdxl-4step[resolution=32]" in result.output and "denoiser passes" in result.output


def test_steps_override_cannot_break_a_fixed_chain(offline_hub, tmp_path):
    result = _evaluate(tmp_path, "--method", "dmd2-sdxl-4step", "--steps", "2")
    assert result.exit_code != 0 and "fixed timesteps [999, 749, 499, 249]" in result.output


@pytest.mark.parametrize("name", ["dmd2-sdxl-4step", "flux1-schnell"])  # LCM re-noises per sample; flow packing
def test_images_do_not_depend_on_the_batch(offline_hub, name):
    from dataclasses import replace

    gen = DiffusersGenerator(replace(get_recipe(name), resolution=32), RunSettings(device="cpu"))
    prompts, seeds = ["a red cat", "a blue dog", "a green bird"], [7, 8, 9]
    together = gen.generate(prompts, seeds)
    alone = torch.cat([gen.generate([p], [s]) for p, s in zip(prompts, seeds)])
    assert together.shape == (3, 3, 32, 32) and together.dtype == torch.uint8
    assert (together.int() - alone.int()).abs().max() <= 1  # CPU matmuls may round one grey level apart
    assert not torch.equal(together[0], together[1])


def test_other_sizes_are_resized_for_the_toy_metrics_and_recorded(offline_hub, tmp_path):
    result = _evaluate(tmp_path, "--method", "flux1-schnell", "--resolution", "32")
    assert result.exit_code == 0, result.output
    [path] = [p for p in (tmp_path / "results").rglob("*.json")]
    record = json.loads(path.read_text())
    assert record["resize"] == {"generated": [32, 32], "evaluated": 16, "filter": "PIL.Image.LANCZOS", "crop": "none"}


GENERIC = {  # pipeline class -> (factory, its __call__ defaults: steps, guidance, CFG batch factor)
    "StableDiffusionPipeline": (lambda f: T.sd15(f, __import__("diffusers").DDIMScheduler()), 50, 7.5, 2.0),
    "StableDiffusionXLPipeline": (lambda f: T.sdxl(f, __import__("diffusers").EulerDiscreteScheduler()), 50, 5.0, 2.0),
    "StableDiffusion3Pipeline": (lambda f: T.sd3(f, __import__("diffusers").FlowMatchEulerDiscreteScheduler(
        shift=3.0)), 28, 7.0, 2.0),
    "FluxPipeline": (lambda f: T.flux(f, __import__("diffusers").FlowMatchEulerDiscreteScheduler(), False), 28, 3.5,
                     1.0),
    "ZImagePipeline": (lambda f: T.zimage(f, __import__("diffusers").FlowMatchEulerDiscreteScheduler(shift=3.0)),
                       50, 5.0, 2.0),
}


@pytest.mark.parametrize("cls", list(GENERIC))
def test_plain_diffusers_folder_runs_with_the_generic_recipe(tmp_path, cls):
    factory, steps, guidance, batch = GENERIC[cls]
    folder = tmp_path / "my-pipeline"
    factory(folder)  # written by plain save_pretrained
    # The resolved recipe, with no flags: the pipeline's call defaults and size (the denoiser's sample size x the
    # VAE factor: 8 x 2 = 16 px for the tiny UNet/SD3 layouts; FLUX and Z-Image declare no sample size, so their
    # pipelines' 128-latent default applies: 256 px here, 1024 px for the real models)
    plan = json.loads(_evaluate(tmp_path, "--pipeline", str(folder), "--dry-run", "--json").stdout)
    recipe = plan["generators"][0]["describe"]["recipe"]
    assert recipe["pipeline"] == cls and recipe["steps"] == steps and recipe["guidance"] == guidance
    assert recipe["resolution"] == (16 if cls.startswith("StableDiffusion") else 256)
    # Run it: with no flags where that is cheap on CPU; FLUX / Z-Image at 16 px and 2 steps (4096 tokens x 28-50
    # steps would dominate the test suite)
    flags = [] if cls.startswith("StableDiffusion") else ["--resolution", "16", "--steps", "2"]
    result = _evaluate(tmp_path, "--pipeline", str(folder), "--json", *flags)
    assert result.exit_code == 0, result.output
    [path] = [p for p in (tmp_path / "results").rglob("*.json")]
    record = json.loads(path.read_text())
    assert record["trace"]["denoiser_calls"] == (steps if not flags else 2)
    assert record["trace"]["batch_per_image"] == [batch]


def test_exported_student_runs_its_own_sampler(tmp_path):
    from ddmd_bench.training.config import DistillConfig
    from ddmd_bench.training.export import export_pipeline
    from ddmd_bench.training.trainer import Trainer
    from tests.factories import tiny_sd_pipeline

    tiny_sd_pipeline(tmp_path / "tok").save_pretrained(tmp_path / "teacher")
    (tmp_path / "prompts.txt").write_text("a red cat\na blue dog\n")
    cfg = DistillConfig(teacher=str(tmp_path / "teacher"), student_steps=4, steps=1, batch_size=2, lora_rank=2,
                        save_every=10, divergence_std=1e6)
    trainer = Trainer(cfg, tmp_path / "run", prompts=str(tmp_path / "prompts.txt"))
    trainer.run()
    out = export_pipeline(trainer.teacher, trainer.nets.ema.shadow, 4, tmp_path / "student")
    result = _evaluate(tmp_path, "--pipeline", str(out), "--json")
    assert result.exit_code == 0, result.output
    [path] = [p for p in (tmp_path / "results").rglob("*.json")]
    record = json.loads(path.read_text())
    assert "exported by `ddmd-bench train`" in record["generator"]["recipe"]["notes"]
    assert record["trace"]["denoiser_calls"] == 4 and record["trace"]["timesteps"] == [999, 749, 499, 249]
    assert record["trace"]["scheduler"] == "LCMScheduler" and record["trace"]["batch_per_image"] == [1.0]


def test_run_settings_are_applied_and_recorded(offline_hub, tmp_path):
    result = _evaluate(tmp_path, "--method", "flux1-schnell", "--resolution", "16", "--dtype", "float32",
                       "--vae-tiling", "--vae-slicing", "--attention-backend", "native")
    assert result.exit_code == 0, result.output
    [path] = [p for p in (tmp_path / "results").rglob("*.json")]
    settings = json.loads(path.read_text())["generator"]["settings"]
    assert settings == {"device": "cpu", "dtype": "float32", "offload": "none", "vae_tiling": True,
                        "vae_slicing": True, "attention_backend": "native", "compile": False, "allow_pickle": False}
