"""The toy track's shipped weights: a sha256 manifest, verified loading, and the `--ship` step that updates it.

Every file under `weights/` is listed in `weights/manifest.json` with its sha256, size, the exact command and
commit that produced it, and its configs. Loading refuses a missing, modified or truncated file with a message
that names the file and the command that regenerates it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ddmd_bench.hashing import check_listed_file
from ddmd_bench.provenance import git_commit  # noqa: F401  (the toy trainers record `shipped.git_commit()`)
from ddmd_bench.resolver import sha256_file

if TYPE_CHECKING:
    import torch

MANIFEST = "manifest.json"

REGENERATE = {
    "teacher": "ddmd-bench train teacher --track toy --ship",
    "classifier": "ddmd-bench train classifier --track toy --ship",
    "clip": "ddmd-bench train clip --track toy --ship",
    "reward": "ddmd-bench train reward --track toy --ship",
    # CA alone diverges by design (the paper's CA collapse): what ships is its last good checkpoint.
    "ca-only-4step": "ddmd-bench train toy-ca-only-4step --ship --ship-last-good",
}


class WeightsError(RuntimeError):
    """A shipped weight file is missing, corrupted or does not match its manifest."""


def weights_dir() -> Path:
    """Folder of the shipped weights (overridable with DDMD_BENCH_TOY_WEIGHTS, e.g. for tests)."""
    override = os.environ.get("DDMD_BENCH_TOY_WEIGHTS")
    return Path(override) if override else Path(str(resources.files("ddmd_bench.tracks.toy") / "weights"))


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """The manifest as a dict (an empty one if nothing was shipped yet)."""
    path = (folder or weights_dir()) / MANIFEST
    if not path.exists():
        return {"schema_version": 1, "files": {}}
    return json.loads(path.read_text())


def entry(name: str, folder: Path | None = None) -> dict[str, Any]:
    """Manifest entry of shipped model `name` ('teacher', 'classifier', 'clip', ...)."""
    files = read_manifest(folder)["files"]
    key = f"{name}.safetensors"
    if key not in files:
        raise WeightsError(f"no shipped toy model {name!r} in {(folder or weights_dir()) / MANIFEST}; "
                           f"train and ship it with `{regenerate_command(name)}`")
    return files[key]


def regenerate_command(name: str) -> str:
    """The command that rebuilds shipped model `name`."""
    return REGENERATE.get(name, f"ddmd-bench train toy-{name} --ship")


def load_state_dict(name: str, folder: Path | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, manifest entry) of a shipped model, after verifying the file's sha256."""
    folder = folder or weights_dir()
    meta = entry(name, folder)
    path = folder / f"{name}.safetensors"
    how = f"regenerate it with `{regenerate_command(name)}` or restore it with `git checkout -- {path}`"
    check_listed_file(path, meta["sha256"], WeightsError, "weight file", how)
    from safetensors.torch import load_file  # torch: only when a model loads (listings read the manifest alone)

    try:
        return load_file(str(path)), meta
    except Exception as exc:  # a file that matches its hash but does not parse means a bad manifest entry
        raise WeightsError(f"cannot read weight file {path}: {exc}; {how}") from exc


def ship(name: str, source: Path, info: dict[str, Any], folder: Path | None = None) -> Path:
    """Copy an exported safetensors file into the shipped weights and record it in the manifest."""
    import torch  # its version is recorded; only shipping (after training) needs it

    folder = folder or weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.safetensors"
    shutil.copyfile(source, target)
    manifest = read_manifest(folder)
    manifest["files"][target.name] = {
        "sha256": sha256_file(target),
        "bytes": target.stat().st_size,
        "regenerate": regenerate_command(name),
        "shipped_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        **info,
    }
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, folder / MANIFEST)
    return target
