"""The result record (schema-versioned) and its JSON files.

A record holds everything needed to trust and compare a number: the protocol fingerprint, the generator's full
description, every metric's value, CI, n, spec and per-sample scores, the latency context, the environment,
and timings. Keys are documented where the record is built (`runner.build_record`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def slug(name: str) -> str:
    """File-system-safe form of a generator name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def record_path(results_dir: Path, protocol_slug: str, generator_name: str) -> Path:
    """Where the record of a (protocol, generator) run lives."""
    return Path(results_dir) / protocol_slug / f"{slug(generator_name)}.json"


def write_record(record: dict[str, Any], path: Path) -> None:
    """Write atomically (a crash leaves the previous record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_record(path: Path) -> dict[str, Any] | None:
    """A stored record, or None if absent or unreadable (it is then simply recomputed)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("schema_version") == SCHEMA_VERSION else None


def write_samples(record: dict[str, Any], prompts: tuple[str, ...], seeds: list[int], path: Path,
                  image_dir: Path | None = None) -> Path:
    """The per-sample log (JSON Lines): index, prompt, seed, every metric's per-sample score, image path."""
    per_sample = {name: m.get("per_sample") for name, m in record["metrics"].items() if m.get("per_sample")}
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
