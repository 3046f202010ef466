"""Protocols: everything that must match for two results to be comparable, and its fingerprint.

A protocol names its prompt set (name, version, sha256), the number of images per prompt, the resolution, the
seed rule, the reference set and the exact spec of every metric (implementation, weights sha256,
preprocessing). Its fingerprint is the sha256 of that canonical JSON: leaderboards refuse results whose
fingerprint differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ddmd_bench.registry import Registry


@dataclass(frozen=True, slots=True)
class Protocol:
    """A named, versioned evaluation protocol."""

    name: str
    version: int
    track: str
    prompt_set: dict[str, Any]  # {name, version, n, sha256}
    images_per_prompt: int
    resolution: int
    seed_rule: str  # human-readable and exact, e.g. "seed_i = 1000000 + i"
    seed_base: int
    metrics: dict[str, dict[str, Any]]  # metric name -> spec (identity of the metric)
    latency: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what leaderboard headers store)."""
        return asdict(self)

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of every field except the free-text description."""
        data = {k: v for k, v in self.to_dict().items() if k != "description"}
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()

    @property
    def slug(self) -> str:
        """File-system name: '<name>-v<version>'."""
        return f"{self.name}-v{self.version}".replace("[", "_").replace("]", "").replace(":", "")

    def seeds(self, n: int) -> list[int]:
        """Seeds of the first `n` samples."""
        return [self.seed_base + i for i in range(n)]


def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def diff_fields(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths where two protocol dicts differ (explains a fingerprint mismatch)."""
    out = []
    for key in sorted(set(a) | set(b)):
        path = f"{prefix}{key}"
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if isinstance(va, dict) and isinstance(vb, dict):
            out += diff_fields(va, vb, path + ".")
        elif va != vb:
            out.append(f"{path}: {va!r} != {vb!r}")
    return out


class PromptSetMismatch(ValueError):
    """The prompts about to be generated are not the prompt set the protocol records."""


def check_prompts(protocol: Protocol, prompt_set) -> None:
    """Pre-generation checks shared by every protocol: the prompt set is valid (not empty, no empty prompt, unique
    ids) and is exactly the one the protocol records (same count and sha256), so a result can never be filed under
    a protocol whose prompts it did not use."""
    from ddmd_bench.prompts import check_prompt_set

    check_prompt_set(prompt_set, f"protocol {protocol.name}")
    want = protocol.prompt_set
    if want.get("n") != len(prompt_set.prompts) or want.get("sha256") not in (None, prompt_set.sha256):
        raise PromptSetMismatch(f"protocol {protocol.name} records prompt set {want.get('name')!r} "
                                f"(n={want.get('n')}, sha256 {want.get('sha256')}), but the prompts to generate are "
                                f"{prompt_set.name!r} (n={len(prompt_set.prompts)}, sha256 {prompt_set.sha256})")


# name -> factory(limit, data) -> (Protocol, evaluation context). Factories import their track lazily; building a
# protocol loads no model (that happens in the context's `build_metrics`).
PROTOCOLS: Registry[Callable[..., Any]] = Registry("protocol")


@PROTOCOLS.register("toy")
def _toy(limit: int | None = None, data: dict[str, Any] | None = None):
    from ddmd_bench.toy.track import toy_protocol

    if data:
        raise ValueError(f"protocol 'toy' reads no data files (got {', '.join(sorted(data))}): its prompts, "
                         "reference images and models all ship with ddmd-bench")
    return toy_protocol(limit)


@dataclass(frozen=True, slots=True)
class _LiteratureEntry:
    """Registry entry of a literature protocol: builds it from the user's data files; summarises it without them."""

    name: str

    def __call__(self, limit: int | None = None, data: dict[str, Any] | None = None):
        from ddmd_bench.literature.build import build
        from ddmd_bench.literature.specs import SPECS

        return build(SPECS.get(self.name), limit, data)

    def summary(self) -> dict[str, Any]:
        """What can be said about the protocol before any data file is given."""
        from ddmd_bench.literature.specs import SPECS

        spec = SPECS.get(self.name)
        return {"name": spec.name, "version": spec.version, "track": "literature", "n_prompts": spec.n_prompts,
                "resolution": spec.resolution, "metrics": [f.metric for f in spec.fids] + ["clip_score"],
                "prompt_sources": [{"key": s.file.key, "set": s.set_name, "protocol_name": spec.name + s.name_suffix}
                                   for s in spec.prompt_sources],
                "data_files": [f.to_dict() for f in spec.data_files], "reported": spec.reported,
                "gate": None if spec.gate is None else spec.gate.name, "description": spec.description}


def _register_literature() -> None:
    from ddmd_bench.literature.specs import SPECS  # data only: no torch, no model

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
