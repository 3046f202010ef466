"""Content hashes: the cache is used for an unchanged file, dropped for a changed one, and a hub blob's name is used
as its sha256 only when it has the form of one."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ddmd_bench import hashing

OLD_NS = 1_600_000_000 * 10**9  # 2020: far outside the window in which a fresh file's hash is not cached


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """A private cache file, and a list that records every file actually read to hash it."""
    monkeypatch.setenv(hashing.CACHE_ENV, str(tmp_path / "cache" / "hashes.json"))
    reads: list[str] = []
    real = hashing.sha256_stream

    def counting(path):
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(hashing, "sha256_stream", counting)
    return reads


def _old_file(path, data: bytes, mtime_ns: int = OLD_NS):
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_hash_is_the_sha256_of_the_bytes(counted, tmp_path):
    f = _old_file(tmp_path / "w.safetensors", b"weights" * 1000)
    assert hashing.file_sha256(f) == hashlib.sha256(b"weights" * 1000).hexdigest()


def test_unchanged_file_is_read_once(counted, tmp_path):
    f = _old_file(tmp_path / "w.safetensors", b"abc")
    first = hashing.file_sha256(f)
    second = hashing.file_sha256(f)
    assert first == second and counted == [str(f.resolve())]
    entry = hashing.read_cache(hashing.cache_path())[str(f.resolve())]
    assert entry["sha256"] == first and entry["size"] == 3 and entry["mtime_ns"] == OLD_NS


def test_changed_mtime_or_size_rehashes(counted, tmp_path):
    f = _old_file(tmp_path / "w.safetensors", b"abc")
    hashing.file_sha256(f)
    os.utime(f, ns=(OLD_NS + 1, OLD_NS + 1))  # touched: same bytes, read again
    assert hashing.file_sha256(f) == hashlib.sha256(b"abc").hexdigest() and len(counted) == 2
    _old_file(f, b"abcd", OLD_NS + 1)  # other bytes, other size, mtime put back: the size gives it away
    assert hashing.file_sha256(f) == hashlib.sha256(b"abcd").hexdigest() and len(counted) == 3
    assert hashing.file_sha256(f) == hashlib.sha256(b"abcd").hexdigest() and len(counted) == 3


def test_replaced_file_with_same_size_and_mtime_rehashes(counted, tmp_path):
    f = _old_file(tmp_path / "w.safetensors", b"abc")
    hashing.file_sha256(f)
    other = _old_file(tmp_path / "new.tmp", b"xyz")  # written elsewhere and moved in (a new inode)
    os.replace(other, f)
    assert hashing.file_sha256(f) == hashlib.sha256(b"xyz").hexdigest() and len(counted) == 2


def test_a_file_written_just_now_is_not_cached(counted, tmp_path):
    # a rewrite of the same size within the file system's clock tick would keep the same stamp
    f = tmp_path / "fresh.safetensors"
    f.write_bytes(b"abc")
    hashing.file_sha256(f)
    hashing.file_sha256(f)
    assert len(counted) == 2 and str(f.resolve()) not in hashing.read_cache(hashing.cache_path())


def test_many_files_one_cache_update_and_missing_files_pruned(counted, tmp_path):
    files = [_old_file(tmp_path / f"f{i}", bytes([i])) for i in range(3)]
    hashing.files_sha256(files)
    files[0].unlink()
    hashing.file_sha256(_old_file(tmp_path / "g", b"g"))
    assert set(hashing.read_cache(hashing.cache_path())) == {str(p.resolve()) for p in (*files[1:], tmp_path / "g")}


def test_unreadable_cache_is_rebuilt(counted, tmp_path):
    path = hashing.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    f = _old_file(tmp_path / "w", b"abc")
    assert hashing.file_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    assert json.loads(path.read_text())["version"] == hashing.CACHE_VERSION
    assert not list(path.parent.glob("*.tmp"))  # written atomically: no temporary file left


def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(hashing.CACHE_ENV, str(tmp_path / "h.json"))
    assert hashing.cache_path() == tmp_path / "h.json"
    monkeypatch.delenv(hashing.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hashing.cache_path() == tmp_path / "xdg" / "ddmd-bench" / "hashes.json"


def _hub_file(root, name: str, data: bytes):
    """A snapshot file linked to its blob, as huggingface_hub lays out its cache."""
    blob = root / "models--org--repo" / "blobs" / name
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    os.utime(blob, ns=(OLD_NS, OLD_NS))
    link = root / "models--org--repo" / "snapshots" / ("c" * 40) / "unet" / "model.safetensors"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(blob)
    return link


def test_hub_lfs_blob_name_is_its_sha256(counted, tmp_path):
    data = b"lfs weights"
    link = _hub_file(tmp_path, hashlib.sha256(data).hexdigest(), data)
    assert hashing.file_sha256(link) == hashlib.sha256(data).hexdigest() and counted == []


@pytest.mark.parametrize("name", ["a" * 40, "A" * 64, "g" * 64, "a" * 63])
def test_other_blob_names_are_hashed(counted, tmp_path, name):
    # 40 hex: a git sha1 (small files kept in git); the others are not a sha256 name
    link = _hub_file(tmp_path, name, b"config")
    assert hashing.file_sha256(link) == hashlib.sha256(b"config").hexdigest() and len(counted) == 1


def test_folder_files_skip_hidden_names_and_keep_nested_files(tmp_path):
    for rel in ("unet/config.json", "unet/sub/w.bin", "unet/.cache/x", ".git/HEAD", "vae/w.safetensors"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    assert [p.relative_to(tmp_path).as_posix() for p in hashing.folder_files(tmp_path, ["unet"])] == \
        ["unet/config.json", "unet/sub/w.bin"]
    assert len(hashing.folder_files(tmp_path)) == 3


def test_manifest_digest_depends_on_paths_and_contents_not_order():
    a = hashing.FileDigest("unet/w", "1" * 64, 3)
    b = hashing.FileDigest("vae/w", "2" * 64, 3)
    assert hashing.manifest_digest([a, b]) == hashing.manifest_digest([b, a])
    assert hashing.manifest_digest([a, b]) != hashing.manifest_digest([a, hashing.FileDigest("vae/w", "3" * 64, 3)])
    assert hashing.manifest_digest([a, b]) != hashing.manifest_digest([a, hashing.FileDigest("vae/v", "2" * 64, 3)])


def test_identity_digest_is_canonical():
    assert hashing.identity_digest({"a": 1, "b": [1, 2]}) == hashing.identity_digest({"b": [1, 2], "a": 1})
    assert hashing.identity_digest({"a": 1}) != hashing.identity_digest({"a": 1.5})


def test_concurrent_writers_keep_every_entry(monkeypatch, tmp_path):
    import multiprocessing

    monkeypatch.setenv(hashing.CACHE_ENV, str(tmp_path / "hashes.json"))
    files = [_old_file(tmp_path / f"f{i}", os.urandom(64)) for i in range(8)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(hashing.file_sha256, files)
    entries = hashing.read_cache(tmp_path / "hashes.json")
    assert {str(f.resolve()) for f in files} <= set(entries)
    assert all(entries[str(f.resolve())]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest() for f in files)


def test_entry_is_not_stored_when_the_file_changes_while_hashed(counted, tmp_path, monkeypatch):
    f = _old_file(tmp_path / "w", b"abc")
    real = hashing.sha256_stream

    def racing(path):
        digest = real(path)
        _old_file(f, b"abcdef", OLD_NS + 5)  # rewritten by someone else during the hash
        return digest

    monkeypatch.setattr(hashing, "sha256_stream", racing)
    hashing.file_sha256(f)
    assert str(f.resolve()) not in hashing.read_cache(hashing.cache_path())


# --------------------------------------------------------------------------------------- manifest-checked files
class _Listed(RuntimeError):
    pass


def test_listed_file_passes_only_with_the_listed_hash(tmp_path, monkeypatch):
    monkeypatch.setenv(hashing.CACHE_ENV, str(tmp_path / "hashes.json"))
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights")
    listed = hashlib.sha256(b"weights").hexdigest()
    assert hashing.check_listed_file(path, listed, _Listed, "weight file", "run make weights") == path

    with pytest.raises(_Listed) as info:
        hashing.check_listed_file(path, "0" * 64, _Listed, "weight file", "run make weights")
    message = str(info.value)
    assert str(path) in message and listed in message and "0" * 64 in message and message.endswith("run make weights")

    with pytest.raises(_Listed, match=r"missing weight file .*gone\.bin; run make weights"):
        hashing.check_listed_file(tmp_path / "gone.bin", listed, _Listed, "weight file", "run make weights")
