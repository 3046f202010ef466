"""The weight resolver: every source in order, offline errors that say how to fix them, hash checks."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from ddmd_bench import resolver
from ddmd_bench.resolver import WeightSpec

HF = WeightSpec("tiny-hf", "model.bin", repo_id="org/tiny", env_var="TINY_WEIGHTS", used_for="tests")
URL = WeightSpec("tiny-url", "tiny.pt", url="https://example.invalid/tiny.pt", env_var="TINY_URL_WEIGHTS")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TINY_WEIGHTS", raising=False)
    monkeypatch.delenv("TINY_URL_WEIGHTS", raising=False)


def _fill_hf_cache(root, repo_id, filename, content=b"weights", revision="a" * 40):
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snap = repo / "snapshots" / revision
    snap.mkdir(parents=True)
    (snap / filename).write_bytes(content)
    return snap / filename


def test_hf_cache_is_found(tmp_path):
    path = _fill_hf_cache(tmp_path / "hf", "org/tiny", "model.bin")
    assert resolver.resolve(HF) == path


def test_hf_home_also_works(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    path = _fill_hf_cache(tmp_path / "home" / "hub", "org/tiny", "model.bin")
    assert resolver.resolve(HF) == path


def test_explicit_path_then_env_var_take_precedence(tmp_path, monkeypatch):
    _fill_hf_cache(tmp_path / "hf", "org/tiny", "model.bin")
    mine, env = tmp_path / "mine.bin", tmp_path / "env.bin"
    mine.write_bytes(b"1")
    env.write_bytes(b"2")
    monkeypatch.setenv("TINY_WEIGHTS", str(env))
    assert resolver.resolve(HF, explicit=mine) == mine
    assert resolver.resolve(HF) == env
    with pytest.raises(resolver.WeightsNotFound, match="does not exist \\(given explicitly\\)"):
        resolver.resolve(HF, explicit=tmp_path / "nope.bin")


def test_url_weights_from_torch_home_and_library_folder(tmp_path):
    ckpt = tmp_path / "torch" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / "tiny.pt").write_bytes(b"x")
    assert resolver.resolve(URL) == ckpt / "tiny.pt"
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "tiny.pt").write_bytes(b"y")
    (ckpt / "tiny.pt").unlink()
    assert resolver.resolve(dataclasses.replace(URL, library_dirs=(str(lib),))) == lib / "tiny.pt"


def test_offline_miss_names_file_places_and_remedy():
    with pytest.raises(resolver.WeightsNotFound) as info:
        resolver.resolve(HF)
    msg = str(info.value)
    assert "model.bin not found" in msg and "HF_HUB_OFFLINE=1" in msg and "org/tiny" in msg
    assert "$TINY_WEIGHTS" in msg and "`hf download org/tiny model.bin`" in msg


def test_published_hash_is_verified(tmp_path):
    path = _fill_hf_cache(tmp_path / "hf", "org/tiny", "model.bin", content=b"good")
    spec = dataclasses.replace(HF, sha256=hashlib.sha256(b"good").hexdigest())
    assert resolver.resolve(spec) == path
    path.write_bytes(b"bad")
    with pytest.raises(resolver.WeightsHashMismatch, match="corrupted or a different release"):
        resolver.resolve(spec)


def test_doctor_lists_every_known_weight():
    from click.testing import CliRunner

    from ddmd_bench.cli import main

    result = CliRunner().invoke(main, ["doctor", "--json"])
    assert result.exit_code == 0
    import json

    data = json.loads(result.output)
    names = {r["name"] for r in data["external"]}
    assert {"inception-fid", "openclip-vit-g-14-laion2b-s12b-b42k", "imagereward"} <= names
    hf_rows = [r for r in data["external"] if r["name"] != "inception-fid"]  # (that one may sit in /tmp)
    assert all(r["available"] == "no" and "`hf download " in r["how"] for r in hf_rows)
    assert "teacher.safetensors" in data["toy_shipped"]


def test_alternative_file_names_are_tried_in_order(tmp_path):
    spec = dataclasses.replace(HF, filename="model.safetensors", alternatives=("model.bin",))
    path = _fill_hf_cache(tmp_path / "hf", "org/tiny", "model.bin")
    assert resolver.resolve(spec) == path


# ------------------------------------------------------------------------------------------------- download plans

def _cache_files(root, repo_id, files, revision="main", commit="c" * 40):
    """Put `files` (paths in the repository) into the HF cache layout under refs/<revision> -> snapshots/<commit>."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    for name in files:
        path = repo / "snapshots" / commit / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_plan_for_a_recipe_names_every_missing_repository_and_file(tmp_path):
    from ddmd_bench.recipes.catalog import RECIPES

    plan = resolver.download_plan(RECIPES.get("dmd2-sdxl-4step"))
    assert not plan.complete and plan.cache == tmp_path / "hf"
    by_repo = {m.need.repo_id: m for m in plan.missing}
    assert set(by_repo) == {"stabilityai/stable-diffusion-xl-base-1.0", "tianweiy/DMD2"}
    base, student = by_repo["stabilityai/stable-diffusion-xl-base-1.0"], by_repo["tianweiy/DMD2"]
    assert student.command == "hf download tianweiy/DMD2 dmd2_sdxl_4step_unet_fp16.safetensors"
    assert base.command.startswith("hf download stabilityai/stable-diffusion-xl-base-1.0 model_index.json ")
    # the student replaces the UNet: only its config is needed from the base, the fp16 weights of the rest
    assert "unet/config.json" in base.missing and not any(m.startswith("unet/diffusion") for m in base.missing)
    assert {"text_encoder_2/model.fp16.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors",
            "tokenizer_2/vocab.json", "scheduler/scheduler_config.json"} <= set(base.missing)
    assert base.lands_in == str(tmp_path / "hf" / "models--stabilityai--stable-diffusion-xl-base-1.0" / "snapshots"
                                / "<commit>")
    report = plan.report()
    assert report.startswith("2 of 2 repositories miss 18 files in the HF cache")
    assert student.command in report and base.command in report and "HF_HUB_OFFLINE=1" in report
    with pytest.raises(resolver.MissingDownloads) as info:
        plan.raise_if_missing()
    assert "tianweiy/DMD2" in str(info.value) and "stabilityai/stable-diffusion-xl-base-1.0" in str(info.value)
    assert info.value.plan is plan and isinstance(info.value, resolver.WeightsNotFound)


def test_a_lora_recipe_needs_the_base_unet_weights():
    from ddmd_bench.recipes.catalog import RECIPES

    plan = resolver.download_plan(RECIPES.get("dmd2-sdxl-4step-lora"))
    base = next(m for m in plan.missing if m.need.repo_id == "stabilityai/stable-diffusion-xl-base-1.0")
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in base.missing


def test_plan_lists_only_what_the_cache_lacks_and_is_complete_when_nothing_is(tmp_path):
    from ddmd_bench.recipes.catalog import RECIPES

    recipe = RECIPES.get("dmd2-sdxl-4step")
    needs = resolver.recipe_needs(recipe)
    base_files = needs[0].files
    _cache_files(tmp_path / "hf", "stabilityai/stable-diffusion-xl-base-1.0", base_files[1:])  # all but the index
    plan = resolver.download_plan(recipe)
    assert [(m.need.repo_id, m.missing) for m in plan.missing] == [
        ("stabilityai/stable-diffusion-xl-base-1.0", ("model_index.json",)),
        ("tianweiy/DMD2", ("dmd2_sdxl_4step_unet_fp16.safetensors",))]
    _cache_files(tmp_path / "hf", "stabilityai/stable-diffusion-xl-base-1.0", base_files[:1])
    _cache_files(tmp_path / "hf", "tianweiy/DMD2", ["dmd2_sdxl_4step_unet_fp16.safetensors"])
    plan = resolver.download_plan(recipe)
    assert plan.complete and plan.commands() == [] and "every file of 2 repositories" in plan.report()
    plan.raise_if_missing()


def test_a_cached_model_index_decides_the_component_files(tmp_path):
    import json

    from ddmd_bench.recipes.catalog import RECIPES

    index = {"_class_name": "StableDiffusionXLPipeline", "scheduler": ["diffusers", "LCMScheduler"],
             "unet": ["diffusers", "UNet2DConditionModel"], "image_encoder": [None, None],
             "text_encoder": ["transformers", "SomeNewEncoder"]}
    repo = "stabilityai/stable-diffusion-xl-base-1.0"
    _cache_files(tmp_path / "hf", repo, ["model_index.json"])
    (tmp_path / "hf" / f"models--{repo.replace('/', '--')}" / "snapshots" / ("c" * 40) / "model_index.json") \
        .write_text(json.dumps(index))
    base = resolver.recipe_needs(RECIPES.get("sdxl-base"))[0]
    assert base.files == ("model_index.json", "scheduler/scheduler_config.json", "unet/config.json",
                          "unet/diffusion_pytorch_model.fp16.safetensors")
    assert base.include == ("text_encoder/*",)  # a class with no known file list: its whole folder, by pattern
    missing = resolver.download_plan(RECIPES.get("sdxl-base")).missing[0]
    assert missing.command == ("hf download stabilityai/stable-diffusion-xl-base-1.0 "
                               "--include scheduler/scheduler_config.json --include unet/config.json "
                               "--include unet/diffusion_pytorch_model.fp16.safetensors --include 'text_encoder/*'")


def test_unknown_layouts_are_fetched_by_pattern_and_patterns_are_checked_in_the_snapshot(tmp_path):
    from ddmd_bench.recipes.catalog import RECIPES

    plan = resolver.download_plan(RECIPES.get("flux1-schnell"))
    (only,) = plan.missing
    assert only.command == ("hf download black-forest-labs/FLUX.1-schnell --include model_index.json --include "
                            "'*/*.json' --include '*/*.txt' --include '*/*.model' --include '*/*.safetensors'")
    _cache_files(tmp_path / "hf", "black-forest-labs/FLUX.1-schnell",
                 ["model_index.json", "vae/config.json", "transformer/model.safetensors"])
    (only,) = resolver.download_plan(RECIPES.get("flux1-schnell")).missing
    assert only.missing == ("*/*.txt", "*/*.model")


def test_plan_from_a_list_with_revisions_merges_repeated_repositories(tmp_path):
    _cache_files(tmp_path / "hf", "org/a", ["x.safetensors"], revision="v1", commit="d" * 40)
    plan = resolver.download_plan([("org/a", "v1", ["x.safetensors", "y.json"]), ("org/b", None, ["m.bin"]),
                                   ("org/a", "v1", ["y.json", "z.txt"])])
    assert [n.repo_id for n in plan.needs] == ["org/a", "org/b"]
    assert plan.commands() == ["hf download org/a y.json z.txt --revision v1", "hf download org/b m.bin"]
    assert plan.to_dict()["missing"][0] == {
        "repo": "org/a", "revision": "v1", "used_for": "", "missing": ["y.json", "z.txt"],
        "command": "hf download org/a y.json z.txt --revision v1",
        "lands_in": str(tmp_path / "hf" / "models--org--a" / "snapshots" / "<commit>")}
    # a commit sha as revision finds its snapshot directly
    assert resolver.download_plan([("org/a", "d" * 40, ["x.safetensors"])]).complete


def test_the_commands_run_the_installed_hf_cli_with_the_planned_files(monkeypatch):
    """Each plan command, given to huggingface_hub's own `hf` command line, asks for exactly the planned files or
    patterns at the planned revision (the download functions are replaced, so nothing is fetched)."""
    import shlex

    from huggingface_hub.cli import download as cli_download
    from huggingface_hub.cli.hf import app  # the click group behind the `hf` executable

    from ddmd_bench.recipes.catalog import RECIPES

    calls = []
    monkeypatch.setattr(cli_download, "snapshot_download", lambda **kw: calls.append(kw) or "")
    monkeypatch.setattr(cli_download, "hf_hub_download", lambda **kw: calls.append(kw) or "")
    plan = resolver.download_plan(RECIPES.get("dmd2-sdxl-4step"))
    plan2 = resolver.download_plan([resolver.RepoFiles("org/x", "v3", ("a.json",), ("b/*",))])
    for line in plan.commands() + resolver.download_plan(RECIPES.get("flux1-schnell")).commands() + plan2.commands():
        app.main(shlex.split(line)[1:], prog_name="hf", standalone_mode=False)
    base, student, flux, x = calls
    assert base["repo_id"] == "stabilityai/stable-diffusion-xl-base-1.0" and base["revision"] is None
    assert base["allow_patterns"] == list(plan.missing[0].missing)
    assert student["repo_id"] == "tianweiy/DMD2" and student["filename"] == "dmd2_sdxl_4step_unet_fp16.safetensors"
    assert flux["allow_patterns"] == ["model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/*.safetensors"]
    assert x["allow_patterns"] == ["a.json", "b/*"] and x["revision"] == "v3"


def test_network_errors_name_the_repository_and_how_to_go_offline(tmp_path, monkeypatch):
    import httpx2  # huggingface_hub's HTTP client
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")

    def unreachable(*_, **kwargs):
        if kwargs.get("local_files_only"):
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        raise httpx2.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(resolver.NetworkUnavailable) as info:
        resolver.resolve_snapshot("org/pipe", "v2", allow_patterns=["unet/*"])
    msg = str(info.value)
    assert msg.startswith("org/pipe: the Hugging Face hub could not be reached (ConnectError: [Errno -3]")
    assert "`hf download org/pipe --include 'unet/*' --revision v2`" in msg and "HF_HUB_OFFLINE=1" in msg
    with pytest.raises(resolver.NetworkUnavailable, match="^org/tiny: the Hugging Face hub could not be reached.*"
                       "`hf download org/tiny model.bin`"):
        resolver.resolve(HF)


def test_offline_snapshot_miss_gives_a_working_command(monkeypatch):
    with pytest.raises(resolver.WeightsNotFound) as info:
        resolver.resolve_snapshot("org/pipe", "v2")
    assert "`hf download org/pipe --revision v2`" in str(info.value) and "huggingface-cli" not in str(info.value)


def test_every_catalogued_recipe_has_a_plan_naming_each_of_its_repositories():
    from ddmd_bench.recipes.catalog import RECIPES

    for name in RECIPES:
        recipe = RECIPES.get(name)
        plan = resolver.download_plan(recipe)
        repos = {recipe.base.repo_id} | ({recipe.student.repo.repo_id} if recipe.student else set())
        assert {m.need.repo_id for m in plan.missing} == repos, name
        assert all(c.startswith(f"hf download {m.need.repo_id} ") for m, c in zip(plan.missing, plan.commands()))
        if recipe.student is not None and recipe.student.filename:
            assert recipe.student.filename in plan.missing[-1].missing, name
