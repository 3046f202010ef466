"""The toy track's entries in the generic catalogues: its protocol (`ddmd_bench.protocols.PROTOCOLS`) and its FID
feature extractor (`ddmd_bench.metrics.reference.EXTRACTORS`, for `stats make --extractor toy`).

Both catalogues name these objects lazily ('ddmd_bench.tracks.toy.plugins:protocol'), so generic code never imports
the toy track; the track is imported the first time one of them is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ddmd_bench.protocol import Protocol
from ddmd_bench.tracks.toy.track import ClassifierFeatures, ToyContext, toy_protocol


def protocol(limit: int | None = None, data: Mapping[str, str | Path] | None = None) -> tuple[Protocol, ToyContext]:
    """(Protocol, ToyContext); the toy protocol reads no data files."""
    if data:
        raise ValueError(f"protocol 'toy' reads no data files (got {', '.join(sorted(data))}): its prompts, "
                         "reference images and models all ship with ddmd-bench")
    return toy_protocol(limit)


def feature_extractor(weights: str | Path | None = None) -> ClassifierFeatures:
    """The toy FID feature extractor; `weights` is ignored: the classifier ships with the package and its sha256
    is checked against the shipped manifest when it loads."""
    return ClassifierFeatures()
