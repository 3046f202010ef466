"""The catalogue of named protocols (`--protocol`): the toy track's and the literature track's.

Every entry builds a `ddmd_bench.protocol.Protocol` and its evaluation context; the contract itself lives in
`ddmd_bench.protocol`, so tracks never import this catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ddmd_bench.protocol import check_prompts
from ddmd_bench.registry import Registry


# name -> factory(limit, data) -> (Protocol, evaluation context). Factories import their track lazily; building a
# protocol loads no model (that happens in the context's `build_metrics`).
PROTOCOLS: Registry[Callable[..., Any]] = Registry("protocol")


@PROTOCOLS.register("toy")
def _toy(limit: int | None = None, data: dict[str, Any] | None = None):
    from ddmd_bench.tracks.toy.track import toy_protocol

    if data:
        raise ValueError(f"protocol 'toy' reads no data files (got {', '.join(sorted(data))}): its prompts, "
                         "reference images and models all ship with ddmd-bench")
    return toy_protocol(limit)


@dataclass(frozen=True, slots=True)
class _LiteratureEntry:
    """Registry entry of a literature protocol: builds it from the user's data files; summarises it without them."""

    name: str

    def __call__(self, limit: int | None = None, data: dict[str, Any] | None = None):
        from ddmd_bench.tracks.literature.build import build
        from ddmd_bench.tracks.literature.specs import SPECS

        return build(SPECS.get(self.name), limit, data)

    def summary(self) -> dict[str, Any]:
        """What can be said about the protocol before any data file is given."""
        from ddmd_bench.tracks.literature.specs import SPECS

        spec = SPECS.get(self.name)
        return {"name": spec.name, "version": spec.version, "track": "literature", "n_prompts": spec.n_prompts,
                "resolution": spec.resolution, "metrics": [f.metric for f in spec.fids] + ["clip_score"],
                "prompt_sources": [{"key": s.file.key, "set": s.set_name, "protocol_name": spec.name + s.name_suffix}
                                   for s in spec.prompt_sources],
                "data_files": [f.to_dict() for f in spec.data_files], "reported": spec.reported,
                "gate": None if spec.gate is None else spec.gate.name, "description": spec.description}


def _register_literature() -> None:
    from ddmd_bench.tracks.literature.specs import SPECS  # data only: no torch, no model

    for name in SPECS:
        PROTOCOLS.add(name, _LiteratureEntry(name))


_register_literature()


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
    summary = getattr(entry, "summary", None)
    if summary is not None:
        return summary()
    protocol, _ = get_protocol(name)
    return {"name": protocol.name, "version": protocol.version, "track": protocol.track,
            "n_prompts": protocol.prompt_set["n"], "resolution": protocol.resolution,
            "metrics": list(protocol.metrics),
            "prompt_sources": [{"key": None, "set": protocol.prompt_set["name"], "protocol_name": protocol.name}],
            "data_files": [], "reported": None, "gate": None, "fingerprint": protocol.fingerprint,
            "prompt_set": protocol.prompt_set, "description": protocol.description}
