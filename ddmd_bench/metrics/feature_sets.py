"""Set-to-set metrics on features (CMMD, KID, improved precision and recall): the generated set's features stream
into a per-sample state that reduces over ranks, and are compared with a reference set's features that carry the
identity of the extractor that made them.

Unlike FID, these metrics need every feature vector (not only moments), so the state is an `IndexedRows` table of
the generated features, tagged with each sample's prompt index: shards merged in any order, or gathered from several
ranks, give the same set in the same order, and any seeded subset draw (KID) sees the same rows.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ddmd_bench.metrics.base import check_images
from ddmd_bench.metrics.fid import FeatureExtractor
from ddmd_bench.metrics.states import IndexedRows


@dataclass(frozen=True, slots=True, eq=False)
class ReferenceFeatures:
    """A reference set's feature vectors [n, d] (float64), tied to the extractor that produced them."""

    features: np.ndarray
    extractor_id: str
    set_id: str

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or len(self.features) == 0:
            raise ValueError(f"reference features must be a non-empty [n, d] array, got {list(self.features.shape)}")

    @property
    def n(self) -> int:
        """Number of reference samples."""
        return len(self.features)

    @property
    def sha256(self) -> str:
        """Hash of the features and their identity (recorded in results)."""
        h = hashlib.sha256(np.ascontiguousarray(self.features, np.float64).tobytes())
        h.update(f"{self.features.shape}|{self.extractor_id}|{self.set_id}".encode())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        """What a result's spec records about the reference."""
        return {"id": self.set_id, "n": self.n, "sha256": self.sha256}


def reference_features(extractor: FeatureExtractor, batches: Iterable[torch.Tensor], set_id: str) -> ReferenceFeatures:
    """Stream `batches` of uint8 images through `extractor` into a reference feature set."""
    with torch.no_grad():
        rows = [extractor(check_images(images)).detach().cpu().double() for images in batches]
    return ReferenceFeatures(torch.cat(rows).numpy(), extractor.id, set_id)


def features_reference(features: torch.Tensor | np.ndarray, extractor_id: str, set_id: str) -> ReferenceFeatures:
    """A reference made elsewhere (a stored embedding file, another pipeline), given as a tensor or array [n, d]."""
    array = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else features
    return ReferenceFeatures(np.asarray(array, np.float64), extractor_id, set_id)


def save_reference(reference: ReferenceFeatures, extractor: FeatureExtractor, out: str | Path) -> Path:
    """Write a reference feature set as .npz with its extractor's identity and the reference's sha256, so a file
    made with another extractor, or edited, is refused on load."""
    if reference.extractor_id != extractor.id:
        raise ValueError(f"reference {reference.set_id!r} was made with {reference.extractor_id!r}, "
                         f"not {extractor.id!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        np.savez(f, features=reference.features, extractor_id=np.array(reference.extractor_id),
                 set_id=np.array(reference.set_id), weights_sha256=np.array(extractor.weights_sha256),
                 preprocessing=np.array(extractor.preprocessing), sha256=np.array(reference.sha256))
    return out


def load_reference(path: str | Path) -> ReferenceFeatures:
    """A reference feature set written by `save_reference`, after checking its recorded sha256."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable reference-features .npz ({exc})") from exc
    missing = {"features", "extractor_id", "set_id", "sha256"} - set(arrays)
    if missing:
        raise ValueError(f"{path}: not a ddmd-bench reference-features file (missing {sorted(missing)})")
    reference = ReferenceFeatures(np.asarray(arrays["features"], np.float64), str(arrays["extractor_id"]),
                                  str(arrays["set_id"]))
    if reference.sha256 != str(arrays["sha256"]):
        raise ValueError(f"{path}: content does not match its recorded sha256 (corrupted or edited)")
    return reference


class FeatureSet:
    """The generated set's features as metric state (shared by CMMD, KID and precision/recall): `update` extracts,
    `state` / `merge_state` move shards, `_generated()` gathers every rank's rows in prompt order (a collective)."""

    def __init__(self, extractor: FeatureExtractor, reference: ReferenceFeatures) -> None:
        if reference.extractor_id != extractor.id:
            raise ValueError(f"reference features {reference.set_id!r} were made with extractor "
                             f"{reference.extractor_id!r}, but this metric uses {extractor.id!r}; remake them")
        if reference.features.shape[1] != extractor.dim:
            raise ValueError(f"reference features are {reference.features.shape[1]}-d, the extractor gives "
                             f"{extractor.dim}-d")
        self.extractor, self.reference = extractor, reference
        self.reset()

    def reset(self) -> None:
        """Forget all generated features."""
        self._rows = IndexedRows(self.extractor.dim)

    @torch.no_grad()
    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Add the features of a batch (prompts are not used: these metrics compare image sets)."""
        self._rows.extend(self.extractor(check_images(images)).detach().cpu())

    def state(self) -> dict[str, Any]:
        """The features added since `reset` (one shard)."""
        return {"features": self._rows.local()}

    def merge_state(self, state: dict[str, Any], start: int) -> None:
        """Add a shard's features; `start` is the index of its first sample in the prompt list."""
        if len(state["features"]):
            self._rows.extend(state["features"], start)

    def _generated(self) -> np.ndarray:
        """Every generated feature vector [n, d] in prompt order, float64 (a collective under torch.distributed)."""
        features = self._rows.compute()[1].numpy()
        if len(features) == 0:
            raise ValueError(f"{type(self).__name__}: no generated images were added")
        return features

    def _identity(self) -> dict[str, Any]:
        """The extractor and reference fields every spec of this family records."""
        return {"extractor": self.extractor.id, "weights_sha256": self.extractor.weights_sha256,
                "preprocessing": self.extractor.preprocessing, "reference": self.reference.describe()}
