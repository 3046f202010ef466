"""Shipped prompt sets: every manifest entry is verified against its file; the general-purpose set is well formed."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from ddmd_bench import prompt_manifest as M


@pytest.mark.parametrize("name", M.shipped_names())
def test_every_manifest_entry_matches_its_file(name):
    entry = M.entry(name)
    prompts = M.load_shipped(name)
    assert len(prompts.prompts) == entry["n"] and prompts.sha256 == entry["sha256"]
    assert prompts.name == name and prompts.version == entry["version"]
    assert entry["source"] and entry["licence"]


def test_general_set_is_varied_with_unique_ids():
    prompts = M.load_shipped("general")
    assert len(prompts.prompts) == 64 and len(set(prompts.prompts)) == 64
    assert len({m["id"] for m in prompts.meta}) == 64
    categories = Counter(m["category"] for m in prompts.meta)
    assert categories == Counter(M.entry("general")["categories"])
    assert set(categories) == {"objects", "counting", "colours", "spatial", "text", "styles", "people", "animals",
                               "scenes"} and min(categories.values()) >= 7
    assert all('"' in p for p, m in zip(prompts.prompts, prompts.meta) if m["category"] == "text")


def test_edited_files_and_entries_are_refused(tmp_path):
    folder = tmp_path / "prompts"
    shutil.copytree(M.PROMPTS_DIR, folder)
    with open(folder / "general-v1.jsonl", "a", encoding="utf-8") as f:
        f.write('{"id": "general-065", "category": "objects", "prompt": "An extra prompt."}\n')
    with pytest.raises(M.ManifestMismatch, match="file sha256 .* differs from the manifest"):
        M.load_shipped("general", folder)

    shutil.copy(M.PROMPTS_DIR / "general-v1.jsonl", folder / "general-v1.jsonl")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sets"]["general"]["n"] = 63
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(M.ManifestMismatch, match="the manifest says 63"):
        M.load_shipped("general", folder)

    del manifest["sets"]["general"]["licence"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(M.ManifestMismatch, match="lacks \\['licence'\\]"):
        M.load_shipped("general", folder)
    with pytest.raises(KeyError, match="did you mean 'general'"):
        M.load_shipped("genral", folder)
