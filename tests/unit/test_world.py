"""Which GPU a process of a multi-process launch uses."""

from __future__ import annotations

import pytest

from ddmd_bench.utils.distributed import World, local_device_index


def test_each_local_rank_gets_its_own_gpu_or_the_one_it_sees():
    assert [local_device_index(r, 8) for r in range(8)] == list(range(8))  # torchrun, every GPU visible
    assert [local_device_index(r, 1) for r in range(4)] == [0, 0, 0, 0]  # one GPU per process (Slurm, CUDA_VISIBLE)
    with pytest.raises(ValueError, match="no CUDA device"):
        local_device_index(0, 0)


def test_a_single_process_without_a_group_is_world_one(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert World.current() == World(0, 1) and World.current().is_main
