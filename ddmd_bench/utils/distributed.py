"""torch.distributed plumbing shared by the trainer and the evaluation runner: ranks from torchrun, batch slices,
DDP wrapping, mean-reduced log values, barriers."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def local_device_index(local_rank: int, visible: int) -> int:
    """The CUDA device of the process with `local_rank` on its node, among the `visible` devices it sees: its own
    when it sees all of the node's GPUs, the only one when the launcher restricted it (CUDA_VISIBLE_DEVICES,
    Slurm's --gpus-per-task=1)."""
    if visible < 1:
        raise ValueError("no CUDA device is visible to this process")
    return local_rank % visible


@dataclass(frozen=True, slots=True)
class World:
    """This process's place in the job (size 1 when not launched by torchrun)."""

    rank: int = 0
    size: int = 1

    @classmethod
    def current(cls) -> World:
        """The process group already set up (by the user's own job, e.g. `mp.spawn`), else one initialised from
        torchrun's environment (gloo on CPU; nccl + gloo on GPU), else a single process."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return cls()
        if torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
            # `cuda` means the current device: make it this process's own GPU (its LOCAL_RANK among those it sees)
            torch.cuda.set_device(local_device_index(int(os.environ["LOCAL_RANK"]), torch.cuda.device_count()))
        if not dist.is_initialized():
            # Per-device backends: CUDA tensors (DDP gradients) over nccl, CPU tensors (metric states, log values)
            # over gloo, so CPU-side collectives work on GPU jobs too.
            dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files."""
        return self.rank == 0

    def rows(self, global_batch: int) -> slice:
        """This rank's contiguous slice of the global batch."""
        per = global_batch // self.size
        return slice(self.rank * per, (self.rank + 1) * per)

    def wrap(self, net: torch.nn.Module) -> torch.nn.Module:
        """DDP-wrap a trainable module when running on several processes (gradients averaged over ranks)."""
        if self.size == 1:
            return net
        return DistributedDataParallel(net)

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar over ranks (for logs)."""
        if self.size == 1:
            return float(value)
        t = value.detach().clone().float().reshape(1)
        dist.all_reduce(t)
        return float(t) / self.size

    def sum(self, value: float) -> float:
        """The sum of a float over ranks (float64)."""
        if self.size == 1:
            return float(value)
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t)

    def gather(self, values: list[float]) -> list[list[float]]:
        """Every rank's `values` (float64), in rank order; a collective, so every rank must call it."""
        if self.size == 1:
            return [[float(v) for v in values]]
        t = torch.tensor(values, dtype=torch.float64)
        out = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(out, t)
        return [o.tolist() for o in out]

    def barrier(self) -> None:
        """Wait for every rank (no-op alone)."""
        if self.size > 1:
            dist.barrier()
