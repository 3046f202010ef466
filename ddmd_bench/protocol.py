"""The protocol contract: everything that must match for two results to be comparable, and its fingerprint.

A protocol names its prompt set (name, version, sha256), the number of images per prompt, the resolution, the
seed rule, the reference set and the exact spec of every metric (implementation, weights sha256,
preprocessing). Its fingerprint is the sha256 of that canonical JSON: leaderboards refuse results whose
fingerprint differs. The catalogue of named protocols is `ddmd_bench.protocols`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ddmd_bench.gates import QualityGate, gate_for
from ddmd_bench.prompts import check_prompt_set


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
    # The metrics a leaderboard of this protocol shows by default, in order (empty: every metric). Display only:
    # not part of the fingerprint, and left out of the JSON form when empty.
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what leaderboard headers store)."""
        data = asdict(self)
        if self.columns:
            data["columns"] = list(self.columns)
        else:
            del data["columns"]
        return data

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of every field except the free-text description and the display columns."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("description", "columns")}
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()

    @property
    def slug(self) -> str:
        """File-system name: '<name>-v<version>'."""
        return f"{self.name}-v{self.version}".replace("[", "_").replace("]", "").replace(":", "")

    def seeds(self, n: int) -> list[int]:
        """Seeds of the first `n` samples."""
        return [self.seed_base + i for i in range(n)]

    def quality_gate(self) -> QualityGate | None:
        """The two-sided gate the metric specs declare (checked on every complete result), or None."""
        return gate_for(self)


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
    check_prompt_set(prompt_set, f"protocol {protocol.name}")
    want = protocol.prompt_set
    if want.get("n") != len(prompt_set.prompts) or want.get("sha256") not in (None, prompt_set.sha256):
        raise PromptSetMismatch(f"protocol {protocol.name} records prompt set {want.get('name')!r} "
                                f"(n={want.get('n')}, sha256 {want.get('sha256')}), but the prompts to generate are "
                                f"{prompt_set.name!r} (n={len(prompt_set.prompts)}, sha256 {prompt_set.sha256})")
