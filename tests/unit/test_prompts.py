"""Prompt sets: canonical hashing, strict plain-text reading, and the shipped toy prompt file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddmd_bench.prompts import PromptFileError, canonical_sha256, read_text
from ddmd_bench.tracks.toy import world
from ddmd_bench.tracks.toy.prompts import toy_prompt_set

ROOT = Path(__file__).resolve().parents[2]


def test_toy_prompt_set_is_deterministic_and_interleaved():
    a, b = toy_prompt_set(), toy_prompt_set()
    assert a == b and len(a.prompts) == 320
    held_out = [world.is_held_out(world.parse_prompt(p)) for p in a.prompts]
    assert sum(held_out) == 64 and all(held_out[i] == (i % 5 == 4) for i in range(320))


def test_shipped_prompt_file_matches_the_generator_and_manifest():
    manifest = json.loads((ROOT / "prompts" / "manifest.json").read_text())
    entry = manifest["sets"]["toy"]
    shipped = read_text(ROOT / "prompts" / entry["file"], "toy", entry["version"])
    assert shipped.prompts == toy_prompt_set().prompts
    assert shipped.sha256 == entry["sha256"] == toy_prompt_set().sha256


def test_canonical_hash_is_of_lf_joined_text():
    import hashlib

    assert canonical_sha256(["a", "b"]) == hashlib.sha256(b"a\nb\n").hexdigest()


def test_prompts_are_kept_verbatim(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text('  leading space\n"quoted" prompt\n', encoding="utf-8")
    assert read_text(f, "p", 1).prompts == ("  leading space", '"quoted" prompt')


@pytest.mark.parametrize("content, problem", [
    ("", "empty"),
    ("one\n\nthree\n", ":2: empty prompt"),
    ("one\r\ntwo\n", ":1: carriage return"),
])
def test_malformed_prompt_files_name_the_line(tmp_path, content, problem):
    f = tmp_path / "bad.txt"
    f.write_bytes(content.encode())
    with pytest.raises(PromptFileError, match=problem):
        read_text(f, "bad", 1)
