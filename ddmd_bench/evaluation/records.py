"""The result record (`Result`, schema-versioned) and its JSON files.

A record holds everything needed to trust and compare a number: the protocol fingerprint, the generator's full
description, every metric's value, CI, n, spec and per-sample scores, the latency context, the environment,
and timings. Its JSON form (`Result.to_dict`) is what result files and leaderboard entries store.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Bump on any incompatible change of the record; `Result.from_dict` refuses other versions.
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Result:
    """One run of one generator under one protocol."""

    run_id: str
    created: str  # ISO 8601, UTC, seconds
    status: str  # "ok", or "failed" when any metric failed
    protocol: dict[str, Any]  # {name, version, fingerprint}
    generator: dict[str, Any]  # the generator's `describe()`: weights sha256, scheduler, steps, guidance, dtype
    n_images: int
    metrics: dict[str, dict[str, Any]]  # name -> value, CI, n, per-sample scores (aligned with prompts), spec, status
    latency: dict[str, Any]  # warm latency, stage times, cold start, device
    environment: dict[str, Any]  # package versions, platform, harness commit
    timings: dict[str, Any]  # total and generation seconds, images per second, batch size, world size
    schema_version: int = SCHEMA_VERSION
    # Present only when they apply (absent from the JSON otherwise):
    resize: dict[str, Any] | None = None  # generated size, evaluated size, filter, crop
    trace: dict[str, Any] | None = None  # what the denoiser was called with in the latency run
    data_files: dict[str, dict[str, str]] | None = None  # the user's files: path, sha256, whether a known hash matched
    gate: dict[str, Any] | None = None  # the protocol's quality gate: passed, summary
    outputs: dict[str, Any] | None = None  # flat or identical images among the outputs
    run_config: dict[str, str] | None = None  # the `--config` file the run was started with: path, sha256, text

    @property
    def failed_metrics(self) -> list[str]:
        """Names of the metrics that did not compute."""
        return [name for name, m in self.metrics.items() if m["status"] != "ok"]

    def replace(self, **changes: Any) -> Result:
        """A copy with `changes` (e.g. the outputs check, added once the chunks are summarised)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, optional parts left out when absent."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: v for k, v in out.items() if k not in OPTIONAL or v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """A record read back; a record of another schema version or with unknown keys is an error."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"result record of schema version {data.get('schema_version')!r}; this ddmd-bench "
                             f"reads version {SCHEMA_VERSION}")
        unknown, missing = sorted(set(data) - FIELDS), sorted(REQUIRED - set(data))
        if unknown or missing:
            raise ValueError(f"result record with unknown keys {unknown} and missing keys {missing}")
        return cls(**data)


FIELDS = frozenset(f.name for f in dataclasses.fields(Result))
OPTIONAL = frozenset({"resize", "trace", "data_files", "gate", "outputs", "run_config"})
REQUIRED = FIELDS - OPTIONAL


def slug(name: str) -> str:
    """File-system-safe form of a generator name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def record_path(results_dir: Path, protocol_slug: str, generator_name: str) -> Path:
    """Where the record of a (protocol, generator) run lives."""
    return Path(results_dir) / protocol_slug / f"{slug(generator_name)}.json"


def write_result(result: Result, path: Path) -> None:
    """Write atomically (a crash leaves the previous record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_dict(), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_result(path: Path) -> Result | None:
    """A stored record, or None if absent, unreadable or of another schema (it is then simply recomputed)."""
    try:
        data = json.loads(Path(path).read_text())
        return Result.from_dict(data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def write_samples(result: Result, prompts: tuple[str, ...], seeds: list[int], path: Path,
                  image_dir: Path | None = None) -> Path:
    """The per-sample log (JSON Lines): index, prompt, seed, every metric's per-sample score, image path."""
    per_sample = {name: m.get("per_sample") for name, m in result.metrics.items() if m.get("per_sample")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for i, (prompt, seed) in enumerate(zip(prompts, seeds)):
            row = {"index": i, "prompt": prompt, "seed": seed,
                   "scores": {name: values[i] for name, values in per_sample.items()}}
            if image_dir is not None:
                row["image"] = str(image_dir / f"{i:06d}.png")
            f.write(json.dumps(row) + "\n")
    os.replace(tmp, path)
    return path
