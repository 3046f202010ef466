"""The toy track's entries in the generic catalogues: its protocol (`ddmd_bench.protocols.PROTOCOLS`) and its FID
feature extractor (`ddmd_bench.metrics.reference.EXTRACTORS`, for `stats make --extractor toy`).

Both catalogues name these objects lazily ('ddmd_bench.tracks.toy.plugins:protocol'), so generic code never imports
the toy track; the track is imported the first time one of them is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ddmd_bench import prompt_manifest
from ddmd_bench.tracks.toy import protocol_facts as facts

if TYPE_CHECKING:
    from ddmd_bench.protocol import Protocol
    from ddmd_bench.tracks.toy.track import ClassifierFeatures, ToyContext


@dataclass(frozen=True, slots=True)
class ToyProtocolEntry:
    """The toy protocol as the catalogue calls it, and its summary for listings without building it (building
    imports the toy models' backends, torch among them)."""

    def __call__(self, limit: int | None = None,
                 data: Mapping[str, str | Path] | None = None) -> tuple[Protocol, ToyContext]:
        """(Protocol, ToyContext); the toy protocol reads no data files."""
        if data:
            raise ValueError(f"protocol 'toy' reads no data files (got {', '.join(sorted(data))}): its prompts, "
                             "reference images and models all ship with ddmd-bench")
        from ddmd_bench.tracks.toy.track import toy_protocol  # torch: only when the protocol is really built

        return toy_protocol(limit)

    def summary(self) -> dict[str, Any]:
        """The toy protocol's listing entry; its fingerprint is known once it is built (`prompts show toy`)."""
        prompt_set = prompt_manifest.entry(facts.NAME)
        return {"name": facts.NAME, "version": facts.VERSION, "track": "toy", "n_prompts": prompt_set["n"],
                "resolution": facts.RESOLUTION, "metrics": list(facts.METRICS),
                "prompt_sources": [{"key": None, "set": facts.NAME, "protocol_name": facts.NAME}], "data_files": [],
                "reported": None, "gate": None,
                "prompt_set": {"name": facts.NAME, **{k: prompt_set[k] for k in ("version", "n", "sha256")}},
                "description": facts.DESCRIPTION}


protocol = ToyProtocolEntry()


def feature_extractor(weights: str | Path | None = None) -> ClassifierFeatures:
    """The toy FID feature extractor; `weights` is ignored: the classifier ships with the package and its sha256
    is checked against the shipped manifest when it loads."""
    from ddmd_bench.tracks.toy.track import ClassifierFeatures  # torch: only when features are computed

    return ClassifierFeatures()
