"""Prompt sets shipped in `prompts/`, listed in `prompts/manifest.json` and verified against it on every load.

Each manifest entry states the file, its format, version, prompt count, the sha256 of the set's canonical text (what
protocols and results record), the sha256 of the file's bytes, the source and the licence. Loading checks all of
them, so an edited prompt file can never be evaluated under the name and version of the original.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ddmd_bench.hashing import check_listed_file
from ddmd_bench.prompts import PromptFileError, PromptSet, load
from ddmd_bench.registry import unknown_name_message

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
MANIFEST = "manifest.json"
REQUIRED = ("file", "version", "n", "sha256", "file_sha256", "source", "licence")


class ManifestMismatch(PromptFileError):
    """A shipped prompt file differs from its manifest entry (or the entry is incomplete)."""


def read_manifest(folder: str | Path | None = None) -> dict[str, Any]:
    """The manifest as a dict."""
    path = Path(folder or PROMPTS_DIR) / MANIFEST
    if not path.is_file():
        raise ManifestMismatch(f"{path}: no prompt manifest (the prompts/ folder of the ddmd-bench checkout is "
                               "missing from this install)")
    return json.loads(path.read_text(encoding="utf-8"))


def shipped_names(folder: str | Path | None = None) -> list[str]:
    """Names of the shipped prompt sets, in manifest order."""
    return list(read_manifest(folder)["sets"])


def entry(name: str, folder: str | Path | None = None) -> dict[str, Any]:
    """A set's manifest entry (did-you-mean error for an unknown name)."""
    sets = read_manifest(folder)["sets"]
    if name not in sets:
        raise KeyError(unknown_name_message("shipped prompt set", name, list(sets)))
    missing = [k for k in REQUIRED if k not in sets[name]]
    if missing:
        raise ManifestMismatch(f"prompt manifest entry {name!r} lacks {missing}")
    return sets[name]


def load_shipped(name: str, folder: str | Path | None = None) -> PromptSet:
    """A shipped prompt set, after checking the file's bytes, its prompt count and its canonical sha256."""
    folder = Path(folder or PROMPTS_DIR)
    meta = entry(name, folder)
    path = check_listed_file(folder / meta["file"], meta["file_sha256"], ManifestMismatch, "prompt file",
                             f"it is listed in the prompt manifest as {name!r}: restore it from the ddmd-bench "
                             "checkout, or, for a deliberate edit, bump the set's version and update the manifest")
    prompts = load(path, meta.get("format"), name=name, version=meta["version"])
    if len(prompts.prompts) != meta["n"] or prompts.sha256 != meta["sha256"]:
        raise ManifestMismatch(f"{path}: {len(prompts.prompts)} prompts with canonical sha256 {prompts.sha256}, the "
                               f"manifest says {meta['n']} with {meta['sha256']}")
    return prompts
