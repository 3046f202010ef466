"""Leaderboard files: JSON Lines, one header line then one entry per line (diff-friendly, append-only).

Header: {"kind": "ddmd-bench-leaderboard", "schema_version", "protocol": {...}, "fingerprint"}.
Entry:  {"hash": sha256 of the canonical record, "origin": "measured" | "reported", "record": {...}}.
Writers hold an exclusive lock on a sidecar lock file and replace the whole file atomically, so concurrent
appends lose nothing and a crash mid-write leaves the previous valid file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddmd_bench.protocols import Protocol, canonical_json, diff_fields

KIND = "ddmd-bench-leaderboard"
SCHEMA_VERSION = 1
ORIGINS = ("measured", "reported")


class LeaderboardError(ValueError):
    """A leaderboard file is invalid, or an entry does not belong in it."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One leaderboard row."""

    hash: str
    origin: str
    record: dict[str, Any]


def entry_hash(record: dict[str, Any]) -> str:
    """Content hash of a record."""
    return hashlib.sha256(canonical_json(record).encode()).hexdigest()


# Fields that change with every run of the same measurement: a record equal to an entry in everything else is a
# reproduction (same generator, protocol, quality numbers and hardware), not a new entry.
_RUN_FIELDS = ("run_id", "created", "timings", "environment")


def measurement_key(record: dict[str, Any]) -> str:
    """Hash of what a record measured: everything but run-specific fields and the latency samples (the hardware the
    latency came from stays part of it)."""
    kept = {k: v for k, v in record.items() if k not in _RUN_FIELDS and k != "latency"}
    kept["latency_device"] = record.get("latency", {}).get("device")
    return hashlib.sha256(canonical_json(kept).encode()).hexdigest()


def path_for(directory: str | Path, protocol: Protocol) -> Path:
    """leaderboards/<protocol>-v<version>.jsonl"""
    return Path(directory) / f"{protocol.slug}.jsonl"


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read(path: str | Path) -> tuple[dict[str, Any], list[Entry]]:
    """(header, entries) of a leaderboard file, validating structure and every hash."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise LeaderboardError(f"{path}: empty file (no header)")
    header = _parse(path, 1, lines[0])
    if header.get("kind") != KIND or not isinstance(header.get("schema_version"), int):
        raise LeaderboardError(f"{path}:1: not a ddmd-bench leaderboard header")
    if header["schema_version"] > SCHEMA_VERSION:
        raise LeaderboardError(f"{path}: schema version {header['schema_version']} is newer than this ddmd-bench "
                               f"({SCHEMA_VERSION}); upgrade ddmd-bench")
    if Protocol(**header["protocol"]).fingerprint != header["fingerprint"]:
        raise LeaderboardError(f"{path}:1: header fingerprint does not match its protocol")
    entries = [_entry(path, i, _parse(path, i, line), header) for i, line in enumerate(lines[1:], start=2)]
    return header, entries


def _parse(path: Path, lineno: int, line: str) -> dict[str, Any]:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise LeaderboardError(f"{path}:{lineno}: invalid JSON ({exc})") from exc


def _entry(path: Path, lineno: int, data: dict[str, Any], header: dict[str, Any]) -> Entry:
    entry = Entry(data.get("hash", ""), data.get("origin", ""), data.get("record", {}))
    if entry.origin not in ORIGINS:
        raise LeaderboardError(f"{path}:{lineno}: origin {entry.origin!r} is not one of {ORIGINS}")
    if entry_hash(entry.record) != entry.hash:
        raise LeaderboardError(f"{path}:{lineno}: entry hash mismatch (the entry was edited after it was written)")
    if entry.record.get("protocol", {}).get("fingerprint") != header["fingerprint"]:
        raise LeaderboardError(f"{path}:{lineno}: entry belongs to another protocol fingerprint")
    return entry


def append(directory: str | Path, protocol: Protocol, record: dict[str, Any], origin: str = "measured") -> bool:
    """Add a record to its protocol's leaderboard; False if the same measurement is already there (identical
    record, or a reproduction differing only in run id, time, timings, environment and latency samples)."""
    if origin not in ORIGINS:
        raise LeaderboardError(f"origin must be one of {ORIGINS}, got {origin!r}")
    if record.get("status") != "ok":
        raise LeaderboardError("only successful runs go on a leaderboard (this record has failed metrics)")
    if record["protocol"]["fingerprint"] != protocol.fingerprint:
        raise LeaderboardError(f"record was measured under protocol fingerprint {record['protocol']['fingerprint']}"
                               f", not {protocol.name} v{protocol.version} ({protocol.fingerprint})")
    path = path_for(directory, protocol)
    with _locked(path):
        header, entries = read(path) if path.exists() else (_header(protocol), [])
        _check_same_protocol(path, header, protocol)
        new = Entry(entry_hash(record), origin, record)
        key = measurement_key(record)  # an identical record has the same key too
        if any(measurement_key(e.record) == key for e in entries):
            return False
        _atomic_write(path, header, [*entries, new])
    return True


def _header(protocol: Protocol) -> dict[str, Any]:
    return {"kind": KIND, "schema_version": SCHEMA_VERSION, "protocol": protocol.to_dict(),
            "fingerprint": protocol.fingerprint}


def _check_same_protocol(path: Path, header: dict[str, Any], protocol: Protocol) -> None:
    if header["fingerprint"] == protocol.fingerprint:
        return
    changes = diff_fields(header["protocol"], protocol.to_dict())
    raise LeaderboardError(
        f"{path} holds protocol {header['protocol']['name']} v{header['protocol']['version']} with fingerprint "
        f"{header['fingerprint'][:12]}, but this result's protocol has {protocol.fingerprint[:12]}. Differences: "
        + "; ".join(changes[:6]) + ". A changed protocol needs a new version (and so a new file), never a mix.")


def _atomic_write(path: Path, header: dict[str, Any], entries: list[Entry]) -> None:
    lines = [canonical_json(header)] + [canonical_json({"hash": e.hash, "origin": e.origin, "record": e.record})
                                        for e in entries]
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
