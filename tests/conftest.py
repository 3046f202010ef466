"""Shared fixtures. Tests never touch the network: every model is shipped, or built from a config."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# numpy's BLAS reads this once, at import: one thread, as `ddmd_bench.utils.threads` gives every command, because a
# second one only spins against the first on the metric math's small matrices (a 128-d eigh ran 30x slower on two)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402  (after the BLAS setting)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def hash_cache(tmp_path_factory) -> Path:
    """Content hashes are cached in this session's own file, never in the user's cache."""
    path = tmp_path_factory.mktemp("hash-cache") / "hashes.json"
    os.environ["DDMD_BENCH_HASH_CACHE"] = str(path)
    return path


@pytest.fixture
def weights_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of the shipped toy weights (so a test may damage it), selected via the env override."""
    from ddmd_bench.tracks.toy import shipped

    folder = tmp_path / "weights"
    shutil.copytree(shipped.weights_dir(), folder)
    monkeypatch.setenv("DDMD_BENCH_TOY_WEIGHTS", str(folder))
    return folder


@pytest.fixture
def recipe_check(monkeypatch) -> str:
    """The small recipe-check protocol (registered once), evaluated with 10 FID bootstrap rounds instead of 200: for
    tests that compare identities and numbers, not intervals. Its name."""
    from ddmd_bench.protocols import PROTOCOLS
    from ddmd_bench.tracks.toy import track
    from tests.factories import RECIPE_CHECK_PROTOCOL, recipe_check_protocol

    if RECIPE_CHECK_PROTOCOL not in PROTOCOLS:
        PROTOCOLS.add(RECIPE_CHECK_PROTOCOL, recipe_check_protocol)
    monkeypatch.setattr(track, "FID_BOOTSTRAP", 10)
    return RECIPE_CHECK_PROTOCOL
