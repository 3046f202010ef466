"""Reference statistics files (`ddmd-bench stats make / info`): an .npz with mu, sigma, n and their identity.

The file records the extractor id, its weights sha256, the preprocessing, the source, and a sha256 of its own
content, so a reference made with another extractor or preprocessing is refused instead of silently used.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ddmd_bench.metrics.fid import ReferenceStats, reference_stats
from ddmd_bench.metrics.inception import CleanFIDFeatures, PatchFIDFeatures
from ddmd_bench.registry import Registry
from ddmd_bench.utils.progress import Progress

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}

EXTRACTORS: Registry[Callable[..., Any]] = Registry("feature extractor")


@EXTRACTORS.register("inception")
def _inception(weights=None):
    return CleanFIDFeatures(weights=weights)


@EXTRACTORS.register("inception-patch")
def _inception_patch(weights=None):
    return PatchFIDFeatures(weights=weights)


# a track's extractor is a plug-in: named by import path, imported only when asked for
EXTRACTORS.add_lazy("toy", "ddmd_bench.tracks.toy.plugins:feature_extractor")


def _decode(data: bytes, name: str) -> torch.Tensor:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous()
    except Exception as exc:  # a corrupt image names itself
        raise ValueError(f"cannot decode image {name}: {exc}") from exc


def image_files(source: str | Path) -> list[tuple[str, Callable[[], bytes]]]:
    """(name, read) of every image in a folder (recursively) or a zip file, in sorted name order."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        items = [(str(p), p.read_bytes) for p in files]
    elif zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        names = sorted(n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES)
        items = [(n, lambda n=n: archive.read(n)) for n in names]
    else:
        raise ValueError(f"{source}: not a folder or a zip file of images")
    if not items:
        raise ValueError(f"{source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return items


def batches(images: Iterator[torch.Tensor], size: int) -> Iterator[torch.Tensor]:
    """Stack consecutive images of equal shape into batches of at most `size`."""
    pending: list[torch.Tensor] = []
    for im in images:
        if pending and (len(pending) == size or im.shape != pending[0].shape):
            yield torch.stack(pending)
            pending = []
        pending.append(im)
    if pending:
        yield torch.stack(pending)


def _content_sha(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    return h.hexdigest()


def make(source: str | Path, extractor, out: str | Path, batch_size: int = 64, set_id: str | None = None,
         identity: dict[str, Any] | None = None, progress: bool = True) -> dict[str, Any]:
    """Compute and save reference statistics for the images in `source`.

    An extractor with a `prepare` step (an evaluation-resolution transform) has it applied per image first, so
    reference images of mixed sizes still form full batches. `identity` (what protocol and reference set the file
    is for) is stored with the statistics and covered by their sha256. `progress` reports the images done, with
    an ETA, on stderr.
    """
    files = image_files(source)
    images = (_decode(read(), name) for name, read in files)
    prepare = getattr(extractor, "prepare", None)
    if prepare is not None:
        images = map(prepare, images)
    with Progress(len(files), "stats make", "img", enabled=progress) as bar:
        stats = reference_stats(extractor, _counted(batches(images, batch_size), bar),
                                set_id=set_id or Path(source).name)
    return save(stats, extractor, out, identity)


def _counted(items: Iterator[torch.Tensor], bar: Progress) -> Iterator[torch.Tensor]:
    """`items`, counting each batch's images on `bar` once the consumer asks for the next one (it is done)."""
    for batch in items:
        yield batch
        bar.update(len(batch))


def save(stats: ReferenceStats, extractor, out: str | Path, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write `stats` with the extractor's identity (and optional protocol identity) and their content sha256."""
    arrays = {"mu": stats.mu, "sigma": stats.sigma, "n": np.array(stats.n),
              "extractor_id": np.array(extractor.id), "weights_sha256": np.array(extractor.weights_sha256),
              "preprocessing": np.array(extractor.preprocessing), "set_id": np.array(stats.set_id)}
    if identity is not None:
        arrays["identity"] = np.array(json.dumps(identity, sort_keys=True))
    arrays["sha256"] = np.array(_content_sha(arrays))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        np.savez(f, **arrays)
    return info(out)


def load(path: str | Path) -> tuple[ReferenceStats, dict[str, Any]]:
    """(statistics, metadata) of a reference file, after checking its embedded sha256."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable reference-statistics .npz ({exc})") from exc
    missing = {"mu", "sigma", "n", "extractor_id", "sha256"} - set(arrays)
    if missing:
        raise ValueError(f"{path}: not a ddmd-bench reference file (missing {sorted(missing)})")
    stored = str(arrays.pop("sha256"))
    if _content_sha(arrays) != stored:
        raise ValueError(f"{path}: content does not match its recorded sha256 (corrupted or edited)")
    meta = {k: (v.item() if v.ndim == 0 else v.shape) for k, v in arrays.items()}
    meta["sha256"] = stored
    if "identity" in meta:
        meta["identity"] = json.loads(meta["identity"])
    stats = ReferenceStats(arrays["mu"], arrays["sigma"], int(arrays["n"]), str(arrays["extractor_id"]),
                           str(arrays["set_id"]))
    return stats, meta


def info(path: str | Path) -> dict[str, Any]:
    """Metadata of a reference file (for `stats info`)."""
    _, meta = load(path)
    meta["mu"], meta["sigma"] = list(meta["mu"]), list(meta["sigma"])
    return {"path": str(path), **meta}
