"""Safe writes: concurrent appenders lose nothing, and a writer killed mid-write leaves a valid file."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

from ddmd_bench.leaderboard import store
from tests.factories import result_record as _record, unit_protocol as _protocol


def _writer(directory: str, worker: int, count: int) -> None:
    p = _protocol()
    for i in range(count):
        assert store.append(directory, p, _record(p, value=worker * 1000 + i))


def test_eight_processes_writing_fifty_entries_each_lose_nothing(tmp_path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 50)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    _, entries = store.read(store.path_for(tmp_path, _protocol()))
    values = sorted(e.record["metrics"]["fid"]["value"] for e in entries)
    assert values == sorted(w * 1000 + i for w in range(8) for i in range(50))


_LOOP = """
import sys
from ddmd_bench.leaderboard import store
from tests.factories import result_record as _record, unit_protocol as _protocol
p = _protocol()
i = 0
while True:
    rec = _record(p, value=float(i))
    rec["padding"] = "x" * 200_000  # large entries make a kill mid-write likely
    store.append(sys.argv[1], p, rec)
    i += 1
"""


def test_writer_killed_midway_leaves_a_valid_file(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    seen = 0
    for trial in range(6):
        proc = subprocess.Popen([sys.executable, "-c", _LOOP, str(tmp_path)], cwd=root)
        deadline = time.time() + 60  # a loaded machine may take long to import; kill only once writing started
        while not store.path_for(tmp_path, _protocol()).exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2 + 0.37 * trial)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        path = store.path_for(tmp_path, _protocol())
        if path.exists():
            _, entries = store.read(path)  # raises if the file were torn
            assert len(entries) >= seen
            seen = len(entries)
        # At most the one fixed temp name is left behind, never a growing pile of copies.
        assert len(list(tmp_path.glob("*.tmp"))) <= 1
    assert seen > 0
    assert store.append(tmp_path, _protocol(), _record(_protocol(), value=-1.0))  # the next writer reclaims it
    assert list(tmp_path.glob("*.tmp")) == []
