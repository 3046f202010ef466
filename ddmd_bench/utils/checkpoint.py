"""Resumable training state: atomic saves, safe loads (no arbitrary pickle), and safetensors exports."""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save

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
    """Write contiguous tensors to a safetensors file atomically, with string metadata (config, command).

    The same tensors and metadata always give the same bytes: the safetensors writer emits metadata keys in a
    per-process hash order, so the header is rewritten with sorted metadata keys (a file's sha256 is its identity).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    data = save({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, metadata=metadata)
    tmp.write_bytes(canonical_safetensors(data))
    os.replace(tmp, path)


def canonical_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its `__metadata__` keys sorted. Tensor offsets are relative to the data
    section, so only the 8-byte header length changes; the header is padded with spaces to 8 bytes, as the
    format's own writer does."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + length:]
