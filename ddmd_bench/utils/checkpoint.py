"""Resumable training state: atomic saves, safe loads (no arbitrary pickle), and safetensors exports."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

log = logging.getLogger(__name__)


def atomic_save(obj: dict, path: str | Path) -> None:
    """torch.save to a temp file in the same folder, then rename: a crash mid-write keeps the previous file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state(path: str | Path) -> dict | None:
    """A training state saved by `atomic_save`, or None if absent; pickled code is refused (weights_only)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupted file: say which and how to recover, do not start from scratch silently
        raise RuntimeError(
            f"cannot read training state {path}: {exc}. Delete it to restart training from scratch."
        ) from exc


def export_safetensors(state_dict: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """Write contiguous tensors to a safetensors file atomically, with string metadata (config, command)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)
