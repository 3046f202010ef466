"""Checks that run before any weight is loaded: file formats, pipeline class, remote code.

Every failure is a `RecipeInputError` that names the file and what to do, raised while a run is still being
planned, so a bad checkpoint never costs a half-finished evaluation.
"""

from __future__ import annotations

import importlib
import json
import pickle
import struct
import warnings
import zipfile
from pathlib import Path

import torch

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# Libraries whose classes a pipeline's model_index.json may name; anything else would be remote or custom code.
TRUSTED_LIBRARIES = ("diffusers", "transformers")


class RecipeInputError(ValueError):
    """A recipe's input (weights, pipeline folder) is missing, malformed or unsafe; nothing was generated."""


def check_weights_file(path: Path, allow_pickle: bool = False) -> str:
    """'safetensors' or 'pickle' for a file that can be read; a specific error otherwise."""
    if not path.is_file():
        raise RecipeInputError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        check_safetensors(path)
        return "safetensors"
    if path.suffix in PICKLE_SUFFIXES or _looks_pickled(path):
        if not allow_pickle:
            raise RecipeInputError(
                f"{path} is a pickle checkpoint: loading one can run arbitrary code, so it is refused. Convert it "
                f"to safetensors, or pass --allow-pickle if you trust its source (it is then read with "
                f"torch.load(weights_only=True), which still refuses pickled code).")
        check_pickle_weights_only(path)
        return "pickle"
    raise RecipeInputError(f"{path}: unknown weights format (expected .safetensors, or a pickle with --allow-pickle)")


def check_pickle_weights_only(path: Path) -> None:
    """An allowed pickle must still load with torch.load(weights_only=True): one that names code (a class, a
    function) is refused here, before anything is built. Zip checkpoints are memory-mapped, so the tensors are not
    read."""
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol before refusing; the error says it
            warnings.simplefilter("ignore")
            torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        text = str(exc)  # torch's text suggests weights_only=False, the one thing not to do: keep only its reason
        reason = " ".join(text.split("WeightsUnpickler error:")[-1].split("Check the documentation")[0].split()) \
            if "WeightsUnpickler error:" in text else "it names code, not only tensors"
        raise RecipeInputError(f"{path}: refused even with --allow-pickle: it is not plain weights, a weights-only "
                               f"load rejects it ({reason}). Do not run it; get a safetensors file from the "
                               f"publisher") from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise RecipeInputError(f"{path}: not a readable torch checkpoint ({exc}); download it again") from exc


def check_safetensors(path: Path) -> None:
    """The header parses and the file is as long as the header says (a truncated download fails here)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise RecipeInputError(f"{path} is truncated ({size} bytes): not a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8 or n > 100 << 20:
            raise RecipeInputError(f"{path}: safetensors header length {n} exceeds the file ({size} bytes); "
                                   f"the file is truncated or not safetensors. Download it again.")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecipeInputError(f"{path}: unreadable safetensors header ({exc}); download it again") from exc
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    expected = 8 + n + max(ends, default=0)
    if size < expected:
        raise RecipeInputError(f"{path} is truncated: {size} bytes, the header describes {expected}. "
                               f"Download it again.")


def _looks_pickled(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4)
    return head[:1] == b"\x80" or head[:2] == b"PK"  # a raw pickle, or torch.save's zip container


def check_pipeline_folder(path: Path, expected_class: str | None) -> dict:
    """model_index.json of a pipeline folder: it exists, names the expected class, and no component needs code
    from outside diffusers / transformers (custom code is never run: there is no trust_remote_code here)."""
    index = path / "model_index.json"
    if not index.is_file():
        raise RecipeInputError(f"{path} is not a diffusers pipeline folder (no model_index.json)")
    try:
        data = json.loads(index.read_text())
    except json.JSONDecodeError as exc:
        raise RecipeInputError(f"{index}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise RecipeInputError(f"{index}: expected a JSON object with '_class_name' and the pipeline's components")
    found = data.get("_class_name")
    _check_class(index, "_class_name", found, "diffusers", "a diffusers pipeline class, e.g. StableDiffusionPipeline")
    if expected_class is not None and found != expected_class:
        raise RecipeInputError(f"{path} holds a {found} but the recipe needs a {expected_class}; "
                               f"use the matching recipe or the generic one (--pipeline {path})")
    for name, value in data.items():
        if isinstance(value, list) and len(value) == 2 and value[0] is not None \
                and value[0] not in TRUSTED_LIBRARIES:
            raise RecipeInputError(f"{index}: component {name!r} comes from {value[0]!r}, which would need remote "
                                   f"or custom code; ddmd-bench never enables trust_remote_code")
        if isinstance(value, list) and len(value) == 2 and value[0] is not None:
            _check_class(index, name, value[1], value[0], f"a {value[0]} class")
    return data


def _check_class(index: Path, field: str, name, library: str, what: str) -> None:
    """`library` (diffusers or transformers, as installed) has a class `name`; else the error names the field."""
    module = importlib.import_module(library)
    if not isinstance(name, str) or not name.isidentifier() or not hasattr(module, name):
        version = getattr(module, "__version__", "?")
        raise RecipeInputError(f"{index}: {field} is {name!r}, which {library} {version} does not have; it must "
                               f"name {what}. Fix model_index.json, or install the {library} version that wrote "
                               f"the folder")


def check_model_folder(path: Path) -> None:
    """Every safetensors file of each component folder has a complete header (a truncated shard fails early)."""
    for file in sorted(path.rglob("*.safetensors")):
        check_safetensors(file)
