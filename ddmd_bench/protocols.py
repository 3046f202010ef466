"""The catalogue of named protocols (`--protocol`): the toy track's and the literature track's.

Every entry builds a `ddmd_bench.protocol.Protocol` and its evaluation context; the contract itself lives in
`ddmd_bench.protocol`, so tracks never import this catalogue. Entries are lazy registry references into each track's
`plugins` module: listing names imports no track, and a track is imported the first time one of its protocols is
asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol as TypingProtocol, runtime_checkable

from ddmd_bench.protocol import check_prompts
from ddmd_bench.registry import Registry

# name -> factory(limit, data) -> (Protocol, evaluation context). Building a protocol loads no model (that happens
# in the context's `build_metrics`).
PROTOCOLS: Registry[Callable[..., Any]] = Registry("protocol")

PROTOCOLS.add_lazy("toy", "ddmd_bench.tracks.toy.plugins:protocol")
# names as in ddmd_bench.tracks.literature.specs.SPECS (a test keeps the two lists equal)
PROTOCOLS.add_lazy("coco30k-256", "ddmd_bench.tracks.literature.plugins:COCO30K_256")
PROTOCOLS.add_lazy("coco10k-512-patch", "ddmd_bench.tracks.literature.plugins:COCO10K_512_PATCH")
PROTOCOLS.add_lazy("mlperf-sdxl-5k", "ddmd_bench.tracks.literature.plugins:MLPERF_SDXL_5K")
PROTOCOLS.add_lazy("ddmd-sdxl-coco10k", "ddmd_bench.tracks.literature.plugins:DDMD_SDXL_COCO10K")
PROTOCOLS.add_lazy("senseflow-coco5k-sdxl", "ddmd_bench.tracks.literature.plugins:SENSEFLOW_COCO5K_SDXL")
PROTOCOLS.add_lazy("senseflow-coco5k-sd35", "ddmd_bench.tracks.literature.plugins:SENSEFLOW_COCO5K_SD35")
PROTOCOLS.add_lazy("senseflow-coco5k-flux", "ddmd_bench.tracks.literature.plugins:SENSEFLOW_COCO5K_FLUX")
# reference-free protocols on public prompt sets: names as in ddmd_bench.tracks.literature.prompt_sets.entries()
PROTOCOLS.add_lazy("partiprompts", "ddmd_bench.tracks.literature.plugins:PARTIPROMPTS")
PROTOCOLS.add_lazy("partiprompts-512", "ddmd_bench.tracks.literature.plugins:PARTIPROMPTS_512")
PROTOCOLS.add_lazy("drawbench", "ddmd_bench.tracks.literature.plugins:DRAWBENCH")
PROTOCOLS.add_lazy("drawbench-512", "ddmd_bench.tracks.literature.plugins:DRAWBENCH_512")
PROTOCOLS.add_lazy("hpsv2-bench", "ddmd_bench.tracks.literature.plugins:HPSV2_BENCH")
PROTOCOLS.add_lazy("hpsv2-bench-512", "ddmd_bench.tracks.literature.plugins:HPSV2_BENCH_512")
PROTOCOLS.add_lazy("geneval", "ddmd_bench.tracks.literature.plugins:GENEVAL")
PROTOCOLS.add_lazy("geneval-512", "ddmd_bench.tracks.literature.plugins:GENEVAL_512")


@runtime_checkable
class Summarised(TypingProtocol):
    """An entry that can describe its protocol without building it (one whose build needs the user's files)."""

    def summary(self) -> dict[str, Any]: ...


@runtime_checkable
class LoadsWeights(TypingProtocol):
    """A track context whose metrics load `ddmd_bench.resolver.WEIGHTS` entries (listed without loading them)."""

    def weight_names(self) -> list[str]: ...


def get_protocol(name: str, limit: int | None = None, data: dict[str, Any] | None = None):
    """(Protocol, track context) for a registered protocol name.

    `limit` takes the first N prompts (a different protocol, named so); `data` maps the protocol's data-file keys
    to paths (literature protocols: caption lists, reference statistics; the toy protocol takes none). Every
    data-file and prompt-set check runs here, before any model is loaded.
    """
    protocol, context = PROTOCOLS.get(name)(limit, data)
    check_prompts(protocol, context.prompt_set)
    return protocol, context


def describe(name: str) -> dict[str, Any]:
    """A protocol's summary for listings (`prompts list`), without data files or models."""
    entry = PROTOCOLS.get(name)
    if isinstance(entry, Summarised):
        return entry.summary()
    protocol, _ = get_protocol(name)
    return {"name": protocol.name, "version": protocol.version, "track": protocol.track,
            "n_prompts": protocol.prompt_set["n"], "resolution": protocol.resolution,
            "metrics": list(protocol.metrics),
            "prompt_sources": [{"key": None, "set": protocol.prompt_set["name"], "protocol_name": protocol.name}],
            "data_files": [], "reported": None, "gate": None, "fingerprint": protocol.fingerprint,
            "prompt_set": protocol.prompt_set, "description": protocol.description}
