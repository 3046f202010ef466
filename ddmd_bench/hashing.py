"""Content hashes of the files a generator loads, and the digests that make up its identity.

A weight file's sha256 is cached by its resolved path, size, mtime (ns) and inode in a small JSON file, so a large
checkpoint is read once; any change to one of those rehashes it. The cache lives in
`$DDMD_BENCH_HASH_CACHE` (a file path) or else `$XDG_CACHE_HOME/ddmd-bench/hashes.json` (`~/.cache/...`), and
is updated under a file lock with an atomic replace, so concurrent runs never corrupt it. A file inside a Hugging Face
hub cache that resolves to an LFS blob is named by its sha256 already: that name is used as the hash.

An entry is only stored for a file whose mtime is some seconds older than the moment it was hashed: a file rewritten
with the same size within one tick of the file system's clock would otherwise keep the old hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

log = logging.getLogger(__name__)

CACHE_ENV = "DDMD_BENCH_HASH_CACHE"
CACHE_VERSION = 1
RACY_NS = 2_000_000_000  # covers file systems whose timestamps tick in seconds (FAT: 2 s)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What must be unchanged for a cached hash to stay valid."""

    path: str  # resolved, absolute
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str | Path) -> FileStamp:
        resolved = Path(path).resolve()
        st = resolved.stat()
        return cls(str(resolved), st.st_size, st.st_mtime_ns, st.st_ino)

    def matches(self, entry: dict[str, Any]) -> bool:
        """Whether a cache entry was made for this exact file state."""
        return (entry.get("size"), entry.get("mtime_ns"), entry.get("inode")) == (self.size, self.mtime_ns,
                                                                                   self.inode)


@dataclass(frozen=True, slots=True)
class FileDigest:
    """One file of a generator: its path (relative to the folder it belongs to), size and sha256."""

    path: str
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_stream(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, streamed (always reads the file)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hub_blob_sha256(resolved: str | Path) -> str | None:
    """The sha256 of an LFS file in a Hugging Face hub cache, read from its blob's name (snapshot files are links
    to `blobs/<sha256>` for LFS files, `blobs/<git sha1>` for the others); None for any other path."""
    resolved = Path(resolved)
    if resolved.parent.name == "blobs" and _SHA256_HEX.fullmatch(resolved.name):
        return resolved.name
    return None


def cache_path() -> Path:
    """Where the hash cache lives."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ddmd-bench" / "hashes.json"


def read_cache(path: Path) -> dict[str, dict[str, Any]]:
    """The cached entries (resolved path -> size, mtime_ns, inode, sha256); empty when absent or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def _write_cache(path: Path, new: dict[str, dict[str, Any]]) -> None:
    """Merge `new` into the cache file under its lock; entries of files that no longer exist are dropped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=60):
        entries = {**read_cache(path), **new}
        entries = {k: v for k, v in entries.items() if os.path.exists(k)}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"version": CACHE_VERSION, "entries": entries}, f, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def files_sha256(paths: Iterable[str | Path]) -> dict[Path, str]:
    """sha256 of each file (as given -> hex), from a hub blob name, the cache, or by reading it; one cache update
    for all of them."""
    cache_file = cache_path()
    cached = read_cache(cache_file)
    out: dict[Path, str] = {}
    new: dict[str, dict[str, Any]] = {}
    for given in paths:
        stamp = FileStamp.of(given)
        entry = cached.get(stamp.path)
        digest = hub_blob_sha256(stamp.path) or (entry["sha256"] if entry and stamp.matches(entry) else None)
        if digest is None:
            started = time.time_ns()
            log.debug("hashing %s (%d bytes)", stamp.path, stamp.size)
            digest = sha256_stream(stamp.path)
            if started - stamp.mtime_ns > RACY_NS and FileStamp.of(given) == stamp:
                new[stamp.path] = {"size": stamp.size, "mtime_ns": stamp.mtime_ns, "inode": stamp.inode,
                                   "sha256": digest}
        out[Path(given)] = digest
    if new:
        try:
            _write_cache(cache_file, new)
        except (OSError, TimeoutError) as exc:  # filelock.Timeout is a TimeoutError
            log.warning("could not update the hash cache %s (%s); set %s to a writable file to keep hashes "
                        "between runs", cache_file, exc, CACHE_ENV)
    return out


def file_sha256(path: str | Path) -> str:
    """sha256 of one file (cached; see the module docstring)."""
    return files_sha256([path])[Path(path)]


def check_listed_file(path: str | Path, sha256: str, error: Callable[[str], Exception], what: str, fix: str) -> Path:
    """`path`, after checking that it exists and that its bytes hash to the `sha256` a manifest lists for it.

    This is the one check behind every manifest-checked load (shipped weights, shipped prompt sets): a missing,
    edited or truncated file raises `error(message)`, the message naming the file, both hashes and `fix` (how to
    restore or regenerate it).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"missing {what} {path}; {fix}")
    digest = file_sha256(path)
    if digest != sha256:
        raise error(f"{what} {path} is corrupted or modified: file sha256 {digest} differs from the manifest's "
                    f"{sha256}; {fix}")
    return path


def folder_files(root: str | Path, subfolders: Iterable[str] | None = None) -> list[Path]:
    """Every regular file under `root` (or only under its `subfolders`), sorted, skipping hidden names (tool
    metadata such as `.cache/` or `.git/`)."""
    root = Path(root)
    tops = [root / s for s in subfolders] if subfolders is not None else [root]
    found = set()
    for top in tops:
        candidates = [top] if top.is_file() else top.rglob("*")
        for p in candidates:
            rel = p.relative_to(root)
            if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                found.add(p)
    return sorted(found)


def digest_files(root: str | Path, files: Iterable[Path]) -> list[FileDigest]:
    """FileDigest of each file, with its path relative to `root`."""
    root = Path(root)
    files = list(files)
    hashes = files_sha256(files)
    return [FileDigest(p.relative_to(root).as_posix(), hashes[Path(p)], Path(p).stat().st_size) for p in files]


def manifest_digest(files: Iterable[FileDigest]) -> str:
    """One sha256 over a set of files (relative path and content hash of each, order-independent)."""
    return identity_digest(sorted((f.path, f.sha256) for f in files))


def identity_digest(data: Any) -> str:
    """sha256 of canonical JSON (sorted keys, no whitespace): equal data, equal digest."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
