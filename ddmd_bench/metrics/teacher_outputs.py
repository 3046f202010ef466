"""The identity of a teacher reference set (torch-free, so protocols can declare it without a metric backend): which
teacher, sampling recipe, prompts and seeds made the images a FID-T is measured against (`metrics.fid_teacher`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class TeacherOutputs:
    """Which images a teacher reference is of: the teacher's weights, its sampling recipe, the prompts, the seeds."""

    teacher: str  # model id, e.g. a hub repo or a shipped model's name
    weights_sha256: str | None  # None where the publisher states no hash (the file's own hash is then unknown)
    recipe: dict[str, Any]  # scheduler, steps, guidance, resolution: whatever fixes the sampler
    prompt_set: dict[str, Any]  # {name, n, sha256}: the protocol's prompts
    seed_rule: str  # the protocol's seed rule, e.g. "seed_i = 1000000 + i"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in reference files and result specs)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "teacher identity") -> TeacherOutputs:
        """Parse a stored identity; a missing or unknown field is an error that names it."""
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        unknown = sorted(set(data) - set(names))
        if missing or unknown:
            raise ValueError(f"{where}: missing fields {missing}, unknown fields {unknown}; a teacher identity "
                             f"has exactly {names}")
        return cls(**{n: data[n] for n in names})
