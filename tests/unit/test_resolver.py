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
    assert "$TINY_WEIGHTS" in msg and "huggingface-cli download org/tiny model.bin" in msg


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
    assert all(r["available"] == "no" and "huggingface-cli download" in r["how"] for r in hf_rows)
    assert "teacher.safetensors" in data["toy_shipped"]


def test_alternative_file_names_are_tried_in_order(tmp_path):
    spec = dataclasses.replace(HF, filename="model.safetensors", alternatives=("model.bin",))
    path = _fill_hf_cache(tmp_path / "hf", "org/tiny", "model.bin")
    assert resolver.resolve(spec) == path
