"""Data files a protocol needs from the user (caption lists, reference statistics), declared as specs and verified.

The harness never ships or downloads these files (most carry licences that forbid redistribution, e.g. DMD2's caption
list is CC BY-NC-SA 4.0): the user passes them by path, as a `data: dict[str, Path]` keyed by the names a protocol
declares. Each file is checked before anything else happens: the key must be one the protocol knows, the file must
exist, and where a publisher's sha256 is known (../shared/data/README.md) the file's hash must equal it. Every error
names the key, the file, what the file should be and where it comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ddmd_bench.registry import unknown_name_message
from ddmd_bench.resolver import sha256_file

log = logging.getLogger(__name__)


class DataFileError(ValueError):
    """A protocol's data file is missing, unknown, unreadable or not the expected file."""


class MissingDataFile(DataFileError):
    """A required data file was not given, or its path does not exist."""


class UnknownDataKey(DataFileError):
    """A data file was given under a key the protocol does not declare."""


class DataFileHashMismatch(DataFileError):
    """A data file's sha256 differs from the known hash of the file the protocol expects."""


@dataclass(frozen=True, slots=True)
class DataFile:
    """One file a protocol reads: its key, what it is, where it comes from and (when published) its sha256."""

    key: str
    what: str
    source: str
    sha256: str | None = None  # only where the file's hash is known; otherwise the hash is recorded, not checked
    filename: str = ""  # the usual file name, for messages

    def how_to_provide(self) -> str:
        """The sentence every error about this file ends with."""
        name = f" ({self.filename})" if self.filename else ""
        return f"pass it as --data {self.key}=/path/to/file{name}, i.e. data={{{self.key!r}: path}}; " \
               f"it is {self.what}; source: {self.source}"

    def to_dict(self) -> dict[str, str | None]:
        """What `prompts list` / `--dry-run` show about this file."""
        return {"key": self.key, "what": self.what, "source": self.source, "sha256": self.sha256,
                "filename": self.filename}


@dataclass(frozen=True, slots=True)
class VerifiedFile:
    """A data file that passed its checks, with the sha256 to record."""

    spec: DataFile
    path: Path
    sha256: str

    def to_record(self) -> dict[str, str]:
        """{path, sha256, check}: what a result record says about this file (verified against a known hash or not)."""
        return {"path": str(self.path), "sha256": self.sha256,
                "check": "known sha256 verified" if self.spec.sha256 else "no known hash: recorded"}


def check_keys(protocol: str, specs: tuple[DataFile, ...], data: Mapping[str, str | Path]) -> None:
    """Every given key must be declared by the protocol (a typo would otherwise be silently ignored)."""
    known = [s.key for s in specs]
    for key in data:
        if key not in known:
            raise UnknownDataKey(f"protocol {protocol}: {unknown_name_message('data key', key, known)}")


def verify(protocol: str, spec: DataFile, path: str | Path) -> VerifiedFile:
    """Check that `path` exists and, when the protocol knows the file's hash, that it is that file."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataFile(f"protocol {protocol}: data file {spec.key!r} = {path} does not exist or is not a "
                              f"file. To provide it: {spec.how_to_provide()}.")
    digest = sha256_file(path)
    if spec.sha256 is not None and digest != spec.sha256:
        raise DataFileHashMismatch(
            f"protocol {protocol}: data file {spec.key!r} = {path} has sha256 {digest}, expected {spec.sha256}: it "
            f"is not the file this protocol is defined on (edited, truncated, re-encoded or another version). "
            f"Expected: {spec.what}; source: {spec.source}.")
    log.info("protocol %s: data file %s = %s (sha256 %s%s)", protocol, spec.key, path, digest,
             ", verified" if spec.sha256 else ", no published hash: recorded")
    return VerifiedFile(spec, path, digest)


def require(protocol: str, spec: DataFile, data: Mapping[str, str | Path]) -> VerifiedFile:
    """The verified file for a required key, or an error naming the key and how to provide it."""
    if spec.key not in data:
        raise MissingDataFile(f"protocol {protocol} needs data file {spec.key!r}, which was not given. "
                              f"To provide it: {spec.how_to_provide()}.")
    return verify(protocol, spec, data[spec.key])


def one_of(protocol: str, specs: tuple[DataFile, ...], data: Mapping[str, str | Path]) -> VerifiedFile:
    """Exactly one of alternative files (e.g. a published caption list or the COCO annotations to sample from)."""
    given = [s for s in specs if s.key in data]
    if len(given) > 1:
        raise DataFileError(f"protocol {protocol}: give only one of {', '.join(repr(s.key) for s in given)} "
                            "(they are alternative sources of the same prompts)")
    if not given:
        options = " Or: ".join(s.how_to_provide() for s in specs)
        keys = " or ".join(repr(s.key) for s in specs)
        raise MissingDataFile(f"protocol {protocol} needs its prompts from data file {keys}, none was given. "
                              f"To provide them: {options}.")
    return verify(protocol, given[0], data[given[0].key])
