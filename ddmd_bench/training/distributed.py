"""The trainer's view of torch.distributed (kept here for imports; the implementation is shared)."""

from ddmd_bench.utils.distributed import World

__all__ = ["World"]
