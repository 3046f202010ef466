"""The literature protocols as entries of the generic protocol catalogue (`ddmd_bench.protocols.PROTOCOLS`).

The catalogue names these objects lazily ('ddmd_bench.tracks.literature.plugins:COCO30K_256'), so it imports this
track only when one of its protocols is asked for. Nothing here loads a model: building checks the user's data files
and summarising needs none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddmd_bench.protocol import Protocol
from ddmd_bench.tracks.literature import prompt_sets, specs
from ddmd_bench.tracks.literature.build import build
from ddmd_bench.tracks.literature.context import LiteratureContext


@dataclass(frozen=True, slots=True)
class LiteratureEntry:
    """One literature protocol: built from the user's data files, summarised without them."""

    spec: specs.LiteratureSpec

    def __call__(self, limit: int | None = None,
                 data: Mapping[str, str | Path] | None = None) -> tuple[Protocol, LiteratureContext]:
        return build(self.spec, limit, data)

    def summary(self) -> dict[str, Any]:
        """What can be said about the protocol before any data file is given."""
        spec = self.spec
        return {"name": spec.name, "version": spec.version, "track": "literature", "n_prompts": spec.n_prompts,
                "resolution": spec.resolution,
                "metrics": [f.metric for f in spec.fids] + ["clip_score"] + [name for name, _ in spec.scores],
                "prompt_sources": [{"key": s.file.key, "set": s.set_name, "protocol_name": spec.name + s.name_suffix}
                                   for s in spec.prompt_sources],
                "data_files": [f.to_dict() for f in spec.data_files], "reported": spec.reported,
                "gate": None if spec.gate is None else spec.gate.name, "description": spec.description}


COCO30K_256 = LiteratureEntry(specs.COCO30K_256)
COCO10K_512_PATCH = LiteratureEntry(specs.COCO10K_512_PATCH)
MLPERF_SDXL_5K = LiteratureEntry(specs.MLPERF_SDXL_5K)
DDMD_SDXL_COCO10K = LiteratureEntry(specs.DDMD_SDXL_COCO10K)
SENSEFLOW_COCO5K_SDXL = LiteratureEntry(specs.SENSEFLOW_COCO5K_SDXL)
SENSEFLOW_COCO5K_SD35 = LiteratureEntry(specs.SENSEFLOW_COCO5K_SD35)
SENSEFLOW_COCO5K_FLUX = LiteratureEntry(specs.SENSEFLOW_COCO5K_FLUX)

# Reference-free protocols on public prompt sets (tracks/literature/prompt_sets.py), each at 1024 px and 512 px.
PARTIPROMPTS = prompt_sets.PromptSetEntry(prompt_sets.PARTIPROMPTS)
PARTIPROMPTS_512 = prompt_sets.PromptSetEntry(prompt_sets.PARTIPROMPTS, 512)
DRAWBENCH = prompt_sets.PromptSetEntry(prompt_sets.DRAWBENCH)
DRAWBENCH_512 = prompt_sets.PromptSetEntry(prompt_sets.DRAWBENCH, 512)
HPSV2_BENCH = prompt_sets.PromptSetEntry(prompt_sets.HPSV2_BENCH)
HPSV2_BENCH_512 = prompt_sets.PromptSetEntry(prompt_sets.HPSV2_BENCH, 512)
GENEVAL = prompt_sets.PromptSetEntry(prompt_sets.GENEVAL)
GENEVAL_512 = prompt_sets.PromptSetEntry(prompt_sets.GENEVAL, 512)
