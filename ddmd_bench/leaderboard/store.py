"""Leaderboard files: JSON Lines, one header line then one entry per line (diff-friendly, append-only).

Header: {"kind": "ddmd-bench-leaderboard", "schema_version", "protocol": {...}, "fingerprint"}.
Entry:  {"hash": sha256 of the canonical record, "origin": "measured" | "reported", "record": {...}}.

A re-run that reproduces an entry (see `reproduction`) is not a new entry: it goes to the sidecar file
`<leaderboard>.reproductions.jsonl` next to the leaderboard, one line per reproduction
({"kind": "ddmd-bench-reproduction", "reproduces": entry hash, "hash", "record"}), with its own hardware and
latency. The sidecar is local (git ignores it), so re-running a published leaderboard on another machine leaves the
tracked file untouched.

Writers hold an exclusive lock (filelock) on `<leaderboard>.lock` and replace a file atomically through
`<file>.tmp`, a fixed name that the next writer reclaims, so concurrent appends lose nothing and a crash mid-write
leaves the previous valid file. Non-finite numbers are refused on write and reported by `scan`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddmd_bench.leaderboard import reproduction
from ddmd_bench.protocol import Protocol, canonical_json, diff_fields

KIND = "ddmd-bench-leaderboard"
REPRODUCTION_KIND = "ddmd-bench-reproduction"
REPRODUCTIONS_SUFFIX = ".reproductions.jsonl"
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


@dataclass(frozen=True, slots=True)
class Reproduction:
    """A re-run that reproduced entry `reproduces`: its own record (hardware, latency, run)."""

    hash: str
    reproduces: str
    record: dict[str, Any]

    @property
    def hardware(self) -> str | None:
        """Name of the device its latency was measured on."""
        return (self.record.get("latency") or {}).get("device", {}).get("name")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a leaderboard file; `line` is 1-based, None for the whole file."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Scan:
    """Everything readable in a leaderboard file, and every problem found: `header` is None when unusable."""

    path: Path
    header: dict[str, Any] | None
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Published:
    """What `publish` did: 'added' a ranked entry, recorded a 'reproduced' one, or found it 'present' already."""

    status: str
    path: Path
    reproduces: Entry | None = None

    @property
    def added(self) -> bool:
        """A new ranked entry was written."""
        return self.status == "added"


def entry_hash(record: dict[str, Any]) -> str:
    """Content hash of a record."""
    return hashlib.sha256(canonical_json(record).encode()).hexdigest()


def measurement_key(record: dict[str, Any]) -> str:
    """Hash of what a record measured: everything but run-specific fields and the latency samples (the hardware the
    latency came from stays part of it). Equal keys are the same measurement repeated: nothing to record."""
    kept = {k: v for k, v in record.items() if k not in reproduction.RUN_FIELDS}
    kept["latency_device"] = (record.get("latency") or {}).get("device")
    return hashlib.sha256(canonical_json(kept).encode()).hexdigest()


def path_for(directory: str | Path, protocol: Protocol) -> Path:
    """leaderboards/<protocol>-v<version>.jsonl"""
    return Path(directory) / f"{protocol.slug}.jsonl"


def reproductions_path(leaderboard: str | Path) -> Path:
    """The sidecar of a leaderboard file: leaderboards/toy-v3.jsonl -> leaderboards/toy-v3.reproductions.jsonl."""
    leaderboard = Path(leaderboard)
    return leaderboard.with_name(leaderboard.name.removesuffix(".jsonl") + REPRODUCTIONS_SUFFIX)


def is_reproductions_file(path: str | Path) -> bool:
    """True for a sidecar file of reproductions."""
    return Path(path).name.endswith(REPRODUCTIONS_SUFFIX)


def leaderboard_of(sidecar: str | Path) -> Path:
    """The leaderboard file a sidecar belongs to."""
    sidecar = Path(sidecar)
    return sidecar.with_name(sidecar.name.removesuffix(REPRODUCTIONS_SUFFIX) + ".jsonl")


def non_finite(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every NaN or infinite number in a JSON-like value, e.g. ['generator.guidance (nan)']."""
    if isinstance(data, float) and not math.isfinite(data):
        return [f"{prefix or '<value>'} ({data})"]
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in non_finite(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(data, (list, tuple)):
        return [p for i, v in enumerate(data) for p in non_finite(v, f"{prefix}[{i}]")]
    return []


# ------------------------------------------------------------------------------------------------------ reading

def scan(path: str | Path) -> Scan:
    """Read a leaderboard file, keeping every valid entry and naming every problem (file:line: what)."""
    path = Path(path)
    lines, problem = _lines(path)
    if problem:
        return Scan(path, None, [], [problem])
    if not lines:
        return Scan(path, None, [], [Problem(path, None, "empty file (no header)")])
    header, problems = _header(path, lines[0])
    entries = []
    for lineno, line in enumerate(lines[1:], start=2):
        entry, found = _entry(path, lineno, line, header)
        problems += found
        if entry is not None and not found:
            entries.append(entry)
    return Scan(path, header, entries, problems)


def read(path: str | Path) -> tuple[dict[str, Any], list[Entry]]:
    """(header, entries) of a leaderboard file; LeaderboardError on any problem."""
    result = scan(path)
    _raise_if(result.problems, path)
    return result.header, result.entries


def read_reproductions(leaderboard: str | Path,
                       entries: list[Entry] | None = None) -> tuple[list[Reproduction], list[Problem]]:
    """Reproductions recorded next to a leaderboard (none if no sidecar), and every problem in the sidecar. With
    the leaderboard's `entries`, each reproduction must name one of them and still agree with it."""
    path = reproductions_path(leaderboard)
    if not path.exists():
        return [], []
    lines, problem = _lines(path)
    if problem:
        return [], [problem]
    by_hash = None if entries is None else {e.hash: e for e in entries}
    out, problems = [], []
    for lineno, line in enumerate(lines, start=1):
        item, found = _reproduction(path, lineno, line, by_hash)
        problems += found
        if item is not None and not found:
            out.append(item)
    return out, problems


def _raise_if(problems: list[Problem], path: str | Path) -> None:
    if not problems:
        return
    more = f" (and {len(problems) - 1} more problem(s); `ddmd-bench leaderboard validate {path}` lists them)" \
        if len(problems) > 1 else ""
    raise LeaderboardError(f"{problems[0]}{more}")


def _lines(path: Path) -> tuple[list[str], Problem | None]:
    try:
        return path.read_bytes().decode("utf-8").splitlines(), None
    except UnicodeDecodeError as exc:
        return [], Problem(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start}); not a leaderboard file")
    except OSError as exc:
        return [], Problem(path, None, f"cannot read ({exc.strerror})")


def _parse(line: str) -> tuple[Any, str | None]:
    if not line.strip():
        return None, "empty line (each line must be one JSON object)"
    try:
        return json.loads(line), None
    except ValueError as exc:
        return None, f"invalid JSON ({exc})"


def _header(path: Path, line: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    data, error = _parse(line)
    if error:
        return None, [Problem(path, 1, error)]
    error = _header_problem(data)
    return (None, [Problem(path, 1, error)]) if error else (data, [])


def _header_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or data.get("kind") != KIND:
        return f"not a ddmd-bench leaderboard header (the first line must be a JSON object with \"kind\": \"{KIND}\")"
    if not isinstance(data.get("schema_version"), int):
        return "header has no integer schema_version"
    if data["schema_version"] > SCHEMA_VERSION:
        return (f"schema version {data['schema_version']} is newer than this ddmd-bench ({SCHEMA_VERSION}); "
                "upgrade ddmd-bench")
    if bad := non_finite(data):
        return f"non-finite number in the header at {', '.join(bad)}"
    if not isinstance(data.get("protocol"), dict):
        return "header has no \"protocol\" object"
    try:
        fingerprint = Protocol(**data["protocol"]).fingerprint
    except TypeError as exc:
        return f"header protocol does not have the protocol fields ({exc})"
    if fingerprint != data.get("fingerprint"):
        return "header fingerprint does not match its protocol"
    return None


def _entry(path: Path, lineno: int, line: str, header: dict[str, Any] | None) -> tuple[Entry | None, list[Problem]]:
    data, error = _parse(line)
    if error:
        return None, [Problem(path, lineno, error)]
    if not isinstance(data, dict):
        return None, [Problem(path, lineno, f"an entry must be a JSON object with hash, origin and record, "
                                            f"not {type(data).__name__}")]
    entry = Entry(data.get("hash", ""), data.get("origin", ""), data.get("record"))
    found = [f"origin {entry.origin!r} is not one of {ORIGINS}"] if entry.origin not in ORIGINS else []
    found += _record_problems(entry.record, entry.hash, "record")
    if not found and header is not None and entry.record["protocol"].get("fingerprint") != header["fingerprint"]:
        found.append("entry belongs to another protocol fingerprint")
    return entry, [Problem(path, lineno, f) for f in found]


def _reproduction(path: Path, lineno: int, line: str,
                  entries: dict[str, Entry] | None) -> tuple[Reproduction | None, list[Problem]]:
    data, error = _parse(line)
    if error:
        return None, [Problem(path, lineno, error)]
    if not isinstance(data, dict) or data.get("kind") != REPRODUCTION_KIND:
        return None, [Problem(path, lineno, f"not a reproduction (expected a JSON object with \"kind\": "
                                            f"\"{REPRODUCTION_KIND}\")")]
    item = Reproduction(data.get("hash", ""), data.get("reproduces", ""), data.get("record"))
    found = _record_problems(item.record, item.hash, "record")
    if not found and entries is not None:
        original = entries.get(item.reproduces)
        if original is None:
            found.append(f"reproduces entry {str(item.reproduces)[:12]!r}, which the leaderboard does not hold")
        elif not reproduction.reproduces(original.record, item.record):
            found.append("differs from the entry it claims to reproduce beyond the tolerance")
    return item, [Problem(path, lineno, f) for f in found]


def _record_problems(record: Any, expected_hash: Any, where: str) -> list[str]:
    """What is wrong with a stored record, in words (empty if nothing)."""
    if not isinstance(record, dict):
        return [f"{where} must be a JSON object"]
    found = [f"non-finite number at {where}.{p}" for p in non_finite(record)]
    if entry_hash(record) != expected_hash:
        found.append("entry hash mismatch (the entry was edited after it was written)")
    if found:
        return found
    return _structure_problems(record, where)


def _structure_problems(record: dict[str, Any], where: str) -> list[str]:
    # What readers (tables, plots, comparisons) rely on; a record written by this package always has it.
    generator, metrics, latency = record.get("generator"), record.get("metrics"), record.get("latency", {})
    found = []
    if record.get("status") != "ok":
        found.append(f"{where}.status is {record.get('status')!r}; only successful runs belong on a leaderboard")
    if not isinstance(record.get("protocol"), dict):
        found.append(f"{where}.protocol must be an object with the protocol's fingerprint")
    if not isinstance(generator, dict) or not isinstance(generator.get("name"), str):
        found.append(f"{where}.generator must be an object with a text name")
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) for m in metrics.values()):
        found.append(f"{where}.metrics must be an object of metric objects")
    else:
        found += [f"{where}.metrics.{name}.{k} must be a number or null" for name, m in metrics.items()
                  for k in reproduction.QUALITY_FIELDS if not _number_or_none(m.get(k))]
    if not isinstance(latency, dict):
        found.append(f"{where}.latency must be an object")
    else:
        found += [f"{where}.latency.{k} must be a number" for k in ("median", "p90")
                  if k in latency and not _number_or_none(latency[k])]
        if not isinstance(latency.get("device", {}), dict):
            found.append(f"{where}.latency.device must be an object")
    return found


def _number_or_none(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


# ------------------------------------------------------------------------------------------------------ writing

@contextlib.contextmanager
def _locked(path: Path):
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        yield


def publish(directory: str | Path, protocol: Protocol, record: dict[str, Any],
            origin: str = "measured") -> Published:
    """Put a record on its protocol's leaderboard: a new ranked entry, a reproduction of an existing measured entry
    (recorded in the sidecar), or nothing when the same measurement is already there."""
    _check_publishable(protocol, record, origin)
    # Compared as it will be stored: JSON turns tuples into lists and numpy scalars into numbers, and an in-memory
    # record must match the entry it reproduces exactly as a re-read one would.
    record = json.loads(_json_line(record))
    path = path_for(directory, protocol)
    with _locked(path):
        header, entries = read(path) if path.exists() else (_new_header(protocol), [])
        _check_same_protocol(path, header, protocol)
        key = measurement_key(record)  # an identical record has the same key too
        if any(measurement_key(e.record) == key for e in entries):
            return Published("present", path)
        original = None if origin != "measured" else next(
            (e for e in entries if e.origin == "measured" and reproduction.reproduces(e.record, record)), None)
        if original is not None:
            return _record_reproduction(path, entries, original, record, key)
        _write(path, [_json_line(header)] + [_entry_line(e) for e in entries]
               + [_entry_line(Entry(entry_hash(record), origin, record))])
    return Published("added", path)


def append(directory: str | Path, protocol: Protocol, record: dict[str, Any], origin: str = "measured") -> bool:
    """`publish`, answering whether a new ranked entry was written (False for a repeat or a reproduction)."""
    return publish(directory, protocol, record, origin).added


def _check_publishable(protocol: Protocol, record: dict[str, Any], origin: str) -> None:
    if origin not in ORIGINS:
        raise LeaderboardError(f"origin must be one of {ORIGINS}, got {origin!r}")
    if record.get("status") != "ok":
        raise LeaderboardError("only successful runs go on a leaderboard (this record has failed metrics)")
    generator = record.get("generator")
    name = generator.get("name", "?") if isinstance(generator, dict) else "?"
    if bad := non_finite(record):
        raise LeaderboardError(f"entry {name!r} has a non-finite number at {', '.join(bad)}: non-finite numbers "
                               "never go on a leaderboard; check the settings and outputs of this run")
    problems = _structure_problems(record, "record")
    if problems:
        raise LeaderboardError(f"entry {name!r}: " + "; ".join(problems))
    fingerprint = record["protocol"].get("fingerprint")
    if fingerprint != protocol.fingerprint:
        raise LeaderboardError(f"record was measured under protocol fingerprint {fingerprint}, not "
                               f"{protocol.name} v{protocol.version} ({protocol.fingerprint})")


def _record_reproduction(path: Path, entries: list[Entry], original: Entry, record: dict[str, Any],
                         key: str) -> Published:
    sidecar = reproductions_path(path)
    known, problems = read_reproductions(path, entries)
    _raise_if(problems, sidecar)
    if any(measurement_key(r.record) == key for r in known):
        return Published("present", sidecar, original)
    new = Reproduction(entry_hash(record), original.hash, record)
    _write(sidecar, [_reproduction_line(r) for r in [*known, new]])
    return Published("reproduced", sidecar, original)


def _new_header(protocol: Protocol) -> dict[str, Any]:
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


def _json_line(data: Any) -> str:
    # canonical_json with allow_nan=False: the same text for finite data, an error for NaN or infinity.
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _entry_line(entry: Entry) -> str:
    return _json_line({"hash": entry.hash, "origin": entry.origin, "record": entry.record})


def _reproduction_line(item: Reproduction) -> str:
    return _json_line({"kind": REPRODUCTION_KIND, "reproduces": item.reproduces, "hash": item.hash,
                       "record": item.record})


def _write(path: Path, lines: list[str]) -> None:
    """Replace `path` atomically; call under the lock. The temp name is fixed, so a writer killed mid-write leaves
    a file the next writer overwrites."""
    for stale in path.parent.glob(path.name + ".*.tmp"):  # per-process temp names of older versions
        stale.unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
