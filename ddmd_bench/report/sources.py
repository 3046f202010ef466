"""Read-only access to the committed data that generated sections are built from."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddmd_bench.leaderboard import store

MANIFEST = "ddmd_bench/tracks/toy/weights/manifest.json"


class ReportError(ValueError):
    """A generated section cannot be built (missing data file, unknown section, broken marker)."""


@dataclass(frozen=True)
class Sources:
    """Committed data under the repository root `root`; every file is read once."""

    root: Path
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def path(self, relative: str) -> Path:
        """Absolute path of a committed file; ReportError naming it when it is missing."""
        p = self.root / relative
        if not p.is_file():
            raise ReportError(f"{p}: data file for a generated section is missing (commit it, or remove the "
                              "section's markers from the Markdown)")
        return p

    def json(self, relative: str) -> Any:
        """A committed JSON file, parsed."""
        if relative not in self._cache:
            text = self.path(relative).read_text(encoding="utf-8")
            try:
                self._cache[relative] = json.loads(text)
            except ValueError as exc:
                raise ReportError(f"{self.root / relative}: not valid JSON ({exc})") from exc
        return self._cache[relative]

    def manifest(self) -> dict[str, Any]:
        """The shipped toy weights' manifest: file name -> provenance and measurements."""
        return self.json(MANIFEST)["files"]

    def leaderboard_file(self, protocol: str, version: int | None = None) -> str:
        """Relative path of `leaderboards/<protocol>-v<version>.jsonl`; the highest version when none is given."""
        if version is not None:
            return f"leaderboards/{protocol}-v{version}.jsonl"
        pattern = re.compile(rf"{re.escape(protocol)}-v(\d+)\.jsonl")
        found = sorted((int(m[1]), p.name) for p in (self.root / "leaderboards").glob(f"{protocol}-v*.jsonl")
                       if (m := pattern.fullmatch(p.name)))
        if not found:
            raise ReportError(f"{self.root / 'leaderboards'}: no {protocol}-v*.jsonl leaderboard")
        return f"leaderboards/{found[-1][1]}"

    def leaderboard(self, protocol: str, version: int | None = None) -> tuple[dict[str, Any], list[store.Entry]]:
        """(header, entries) of a protocol's leaderboard, validated by the store."""
        relative = self.leaderboard_file(protocol, version)
        key = f"leaderboard:{relative}"
        if key not in self._cache:
            self._cache[key] = store.read(self.path(relative))
        return self._cache[key]

    def records(self, protocol: str, version: int | None = None) -> dict[str, dict[str, Any]]:
        """Generator name -> record of a leaderboard's measured entries (the last entry wins for a repeated name)."""
        _, entries = self.leaderboard(protocol, version)
        return {e.record["generator"]["name"]: e.record for e in entries if e.origin == "measured"}
