"""A generator is identified by what it loads, not by its name: a changed weight in a `--pipeline` folder is never
served from an earlier result, two folders with the same name stay apart, and large files are hashed once."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddmd_bench import hashing
from ddmd_bench.cli import main
from tests import factories as T
from tests.factories import RECIPE_CHECK_PROTOCOL as PROTOCOL

OLD_NS = 1_600_000_000 * 10**9
UNET = "unet/diffusion_pytorch_model.safetensors"


pytestmark = pytest.mark.usefixtures("recipe_check")  # the protocol, with few FID bootstrap rounds


def _pipeline(folder: Path, seed: int = 0) -> Path:
    import diffusers
    import torch

    T.sd15(folder, diffusers.DDIMScheduler())
    if seed:  # other random UNet weights, same layout and configs
        _edit_unet(folder, lambda t: t + torch.randn(t.shape, generator=torch.Generator().manual_seed(seed)) * 0.1)
    return folder


def _edit_unet(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / UNET
    state = load_file(path)
    save_file({k: change(v).contiguous() for k, v in state.items()}, path)


def _age(folder: Path, ns: int = OLD_NS) -> None:
    """Every file of the folder last written long ago (a fresh file's hash is deliberately not cached)."""
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(ns, ns))


def _evaluate(tmp_path: Path, *args: str):
    result = CliRunner().invoke(main, ["evaluate", "--protocol", PROTOCOL, "--results-dir", str(tmp_path / "results"),
                                       "--leaderboard-dir", str(tmp_path / "lb"), "--quiet", "--json",
                                       "--steps", "2", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _records(tmp_path: Path) -> dict[str, dict]:
    return {json.loads(p.read_text())["generator"]["name"]: json.loads(p.read_text())
            for p in (tmp_path / "results").rglob("*.json")}


def _values(record: dict) -> dict[str, float]:
    return {name: m["value"] for name, m in record["metrics"].items()}


def test_changed_weight_is_rerun_never_reused(tmp_path):
    folder = _pipeline(tmp_path / "pipeline")
    first = _evaluate(tmp_path, "--pipeline", str(folder))
    [name] = [r["name"] for r in first["results"]]
    assert name.startswith("pipeline:pipeline@")
    plan = _evaluate(tmp_path, "--pipeline", str(folder), "--dry-run")
    assert plan["generators"][0]["status"] == "finished (reused)"  # unchanged: reused

    _edit_unet(folder, lambda t: t * 0.5)
    plan = _evaluate(tmp_path, "--pipeline", str(folder), "--dry-run")
    assert plan["generators"][0]["status"] == "to run" and plan["generators"][0]["name"] != name
    second = _evaluate(tmp_path, "--pipeline", str(folder))
    assert second["reused"] == [] and second["added"] == 1

    records = _records(tmp_path)
    assert len(records) == 2
    old, new = records[name], records[second["results"][0]["name"]]
    assert _values(old) != _values(new)
    old_files = {f["path"]: f["sha256"] for f in old["generator"]["files"]["base"]["files"]}
    new_files = {f["path"]: f["sha256"] for f in new["generator"]["files"]["base"]["files"]}
    assert {p for p in old_files if old_files[p] != new_files[p]} == {UNET}
    assert old["generator"]["files"]["base"]["content_sha256"] != new["generator"]["files"]["base"]["content_sha256"]
    lines = (tmp_path / "lb").glob("*.jsonl")
    entries = [json.loads(line) for f in lines for line in f.read_text().splitlines()[1:]]
    assert sorted(e["record"]["generator"]["name"] for e in entries) == sorted([name, new["generator"]["name"]])


def test_record_lists_every_file_it_loads_with_its_sha256(tmp_path):
    folder = _pipeline(tmp_path / "pipeline")
    plan = _evaluate(tmp_path, "--pipeline", str(folder), "--dry-run")
    base = plan["generators"][0]["describe"]["files"]["base"]
    listed = {f["path"]: (f["sha256"], f["bytes"]) for f in base["files"]}
    on_disk = {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
               for p in folder.rglob("*") if p.is_file()}
    assert listed == on_disk  # model_index.json, every component's weights, configs and tokenizer files
    assert {p for p in listed if p.endswith(".safetensors")} == \
        {"text_encoder/model.safetensors", UNET, "vae/diffusion_pytorch_model.safetensors"}
    assert base["commit"] is None and len(base["content_sha256"]) == 64
    scheduler = plan["generators"][0]["describe"]["scheduler"]
    assert scheduler == {"class": "DDIMScheduler", "overrides": {},
                         "saved_config": {k: v for k, v in json.loads((folder / "scheduler" / "scheduler_config.json")
                                                                      .read_text()).items() if not k.startswith("_")}}


def test_reuse_compares_the_whole_identity_not_the_name(tmp_path, monkeypatch):
    from ddmd_bench.recipes import generic

    monkeypatch.setattr(generic, "content_tag", lambda path: "samename")  # a name that ignores the content
    folder = _pipeline(tmp_path / "pipeline")
    _evaluate(tmp_path, "--pipeline", str(folder))
    _edit_unet(folder, lambda t: t * 0.5)
    plan = _evaluate(tmp_path, "--pipeline", str(folder), "--dry-run")
    [gen] = plan["generators"]
    assert gen["name"] == "pipeline:pipeline@samename[steps=2]"
    assert gen["status"] == "to run" and "files.base.files" in gen["rerun_because"]
    again = _evaluate(tmp_path, "--pipeline", str(folder))
    assert again["reused"] == [] and again["added"] == 1


def test_same_folder_name_other_weights_get_distinct_names_and_records(tmp_path):
    a = _pipeline(tmp_path / "a" / "pipeline")
    b = _pipeline(tmp_path / "b" / "pipeline", seed=1)
    copy = tmp_path / "c" / "pipeline"
    import shutil

    shutil.copytree(a, copy)
    plan = _evaluate(tmp_path, "--pipeline", str(a), "--pipeline", str(b), "--pipeline", str(copy), "--dry-run")
    names = [g["name"] for g in plan["generators"]]
    assert names[0] != names[1] and names[0] == names[2]  # a copy of the same files is the same generator
    out = _evaluate(tmp_path, "--pipeline", str(a), "--pipeline", str(b))
    assert [r["name"] for r in out["results"]] == names[:2]
    records = _records(tmp_path)
    assert set(records) == set(names[:2]) and _values(records[names[0]]) != _values(records[names[1]])


def test_hashes_are_cached_until_a_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv(hashing.CACHE_ENV, str(tmp_path / "hashes.json"))
    reads: list[str] = []
    real = hashing.sha256_stream
    monkeypatch.setattr(hashing, "sha256_stream", lambda p: reads.append(Path(p).name) or real(p))
    folder = _pipeline(tmp_path / "pipeline")
    _age(folder)
    n_files = sum(1 for p in folder.rglob("*") if p.is_file())

    _evaluate(tmp_path, "--pipeline", str(folder), "--dry-run")
    assert len(reads) == n_files  # each file read once, though both the name and the record need its hash
    _evaluate(tmp_path, "--pipeline", str(folder), "--dry-run")
    assert len(reads) == n_files  # the second time: no file read

    os.utime(folder / UNET, ns=(OLD_NS + 10**9, OLD_NS + 10**9))  # touched: its stamp no longer matches
    _evaluate(tmp_path, "--pipeline", str(folder), "--dry-run")
    assert reads[n_files:] == [Path(UNET).name]


def test_toy_weights_are_verified_through_the_same_cache(weights_copy, monkeypatch, tmp_path):
    from ddmd_bench.tracks.toy import shipped

    monkeypatch.setenv(hashing.CACHE_ENV, str(tmp_path / "hashes.json"))
    reads: list[str] = []
    real = hashing.sha256_stream
    monkeypatch.setattr(hashing, "sha256_stream", lambda p: reads.append(Path(p).name) or real(p))
    teacher = weights_copy / "teacher.safetensors"
    _age(weights_copy)
    _, meta = shipped.load_state_dict("teacher", weights_copy)
    assert meta["sha256"] == hashing.read_cache(tmp_path / "hashes.json")[str(teacher.resolve())]["sha256"]
    shipped.load_state_dict("teacher", weights_copy)
    assert reads == ["teacher.safetensors"]  # verified against the manifest from the cache the second time

    data = bytearray(teacher.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte changed (and a new mtime)
    teacher.write_bytes(bytes(data))
    with pytest.raises(shipped.WeightsError, match="corrupted or modified"):
        shipped.load_state_dict("teacher", weights_copy)
