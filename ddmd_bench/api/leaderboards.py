"""`ddmd_bench.Leaderboard`: one leaderboard file, read and checked, to filter, compare and render in Python.

A thin layer over `ddmd_bench.leaderboard` (store, compare, table, render): the same reading, checks, paired
comparisons and tables as `ddmd-bench leaderboard show|compare|render`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ddmd_bench.leaderboard import compare, render, store, table
from ddmd_bench.leaderboard.compare import Comparison
from ddmd_bench.leaderboard.store import Entry
from ddmd_bench.registry import unknown_name_message


@dataclass(frozen=True)
class Leaderboard:
    """The entries of one leaderboard file (one protocol version), in file order."""

    path: Path
    header: dict[str, Any]
    entries: tuple[Entry, ...]

    @classmethod
    def open(cls, path: str | os.PathLike) -> Leaderboard:
        """Read a leaderboard file; any invalid line is an error that names it (`store.LeaderboardError`)."""
        header, entries = store.read(path)
        return cls(Path(path), header, tuple(entries))

    @property
    def protocol(self) -> dict[str, Any]:
        """The protocol the entries were measured under: name, version, fingerprint."""
        return {**self.header["protocol"], "fingerprint": self.header["fingerprint"]}

    @property
    def names(self) -> list[str]:
        """Every entry's generator name."""
        return [e.record["generator"]["name"] for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def entry(self, ref: int | str) -> Entry:
        """An entry by index, exact generator name or hash prefix."""
        if isinstance(ref, int):
            return self.entries[ref]
        matches = [e for e in self.entries if e.record["generator"]["name"] == ref or e.hash.startswith(ref)]
        if len(matches) != 1:
            message = unknown_name_message("entry", ref, self.names)
            raise KeyError(message.replace("unknown", "ambiguous", 1) if matches else message)
        return matches[0]

    def filter(self, where: Callable[[Entry], bool] | None = None, *, name: str | None = None,
               origin: str | None = None, max_nfe: int | None = None) -> Leaderboard:
        """The entries that pass every given test: `name` (a glob, e.g. 'toy-teacher/*'), `origin` ('measured'
        or 'reported'), `max_nfe` (denoiser passes per image), `where` (any test of an entry)."""
        def keep(e: Entry) -> bool:
            nfe = e.record["generator"].get("nfe")
            return ((name is None or fnmatch.fnmatchcase(e.record["generator"]["name"], name))
                    and (origin is None or e.origin == origin)
                    and (max_nfe is None or (nfe is not None and nfe <= max_nfe))
                    and (where is None or where(e)))

        return replace(self, entries=tuple(e for e in self.entries if keep(e)))

    def compare(self, a: int | str, b: int | str) -> list[Comparison]:
        """B against A for every metric both have (paired bootstrap over per-prompt scores where both kept them)
        and batch-1 latency, as `ddmd-bench leaderboard compare`."""
        return compare.compare_records(self.entry(a).record, self.entry(b).record)

    def rows(self, sort_by: str | None = None) -> list[dict[str, Any]]:
        """One flat row per entry (metric values and intervals, NFE, latency, hardware), sorted by a metric's
        direction when `sort_by` is given."""
        rows = table.rows(list(self.entries))
        return table.sort_rows(rows, sort_by) if sort_by else rows

    @property
    def default_sort(self) -> str:
        """What tables sort by when not told: the protocol's first default column, else the board's first metric in
        table order (FID, FID-T, ... before scores)."""
        return table.default_sort(table.rows(list(self.entries)), self.header["protocol"])

    def markdown(self, sort_by: str | None = None) -> str:
        """A Markdown table, as `ddmd-bench leaderboard render` (sorted by `default_sort` unless told)."""
        return render.markdown(self.header, list(self.entries), sort_by)

    def text(self, sort_by: str | None = None) -> str:
        """The table `ddmd-bench leaderboard show` prints (sorted by `default_sort` unless told)."""
        return table.render_text(self.rows(sort_by or self.default_sort), self.header)

    def html(self) -> str:
        """A self-contained HTML page (sortable table, plots)."""
        return render.html_page(self.header, list(self.entries))
