"""Two processes in one gloo group on this machine: the set-up of every test that checks a cross-process reduction
(torchmetrics' sync of a metric's states, a trainer's all-reduce, an evaluation's shards) against one process."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

WORLD = 2


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for MASTER_PORT)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_two_processes(fn: Callable[..., Any], out: str | Path, *args: Any) -> list[Any]:
    """`fn(rank, world, *args)` in each of two spawned processes joined in a gloo group; what each returned, in rank
    order. `fn` must be a module-level function (spawn pickles it by name) and both ranks must make the same
    collective calls (a metric's `compute()` is one). The returns pass through files in `out`."""
    mp.spawn(_entry, args=(WORLD, free_port(), fn, args, str(out)), nprocs=WORLD, join=True)
    return [torch.load(Path(out) / f"gloo-rank{rank}.pt", weights_only=False) for rank in range(WORLD)]


def _entry(rank: int, world: int, port: int, fn: Callable[..., Any], args: tuple, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)  # two processes on a small machine: no thread oversubscription
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.save(fn(rank, world, *args), Path(out) / f"gloo-rank{rank}.pt")
    finally:
        dist.destroy_process_group()
