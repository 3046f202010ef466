"""FSDP for students and fake models that do not fit on one device (torch's FSDP2, `fully_shard`).

Parallelism is a run setting, not part of the training config: DDP and FSDP compute the same update, so a run's
identity (and its resume check) does not depend on it. Under FSDP every parameter is a DTensor shard; the few places
that need whole tensors (EMA, checkpoints, logs) gather them here, on every rank at once, since gathering is a
collective. Optimizers are built after sharding (they must hold the sharded parameters) and their state is saved
and restored in torch.distributed.checkpoint's full, rank-independent form.
"""

from __future__ import annotations

from typing import Any

import torch

PARALLEL_MODES = ("ddp", "fsdp")


def is_sharded(t: Any) -> bool:
    """Whether `t` is a DTensor (a shard of a parameter or gradient)."""
    return hasattr(t, "full_tensor") and hasattr(t, "placements")


def full(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor behind a shard (a collective under FSDP); plain tensors pass through."""
    return t.full_tensor() if is_sharded(t) else t


def shard(net: torch.nn.Module) -> torch.nn.Module:
    """Shard `net` in place: one FSDP unit per block of every ModuleList (transformer and UNet blocks), then the
    root, so only one block's weights are gathered at a time."""
    from torch.distributed.fsdp import fully_shard  # distributed backend, loaded only by FSDP runs

    blocks = [block for module in net.modules() if isinstance(module, torch.nn.ModuleList) for block in module
              if any(p.numel() for p in block.parameters())]
    for block in reversed(blocks):  # nested blocks first: FSDP units must be created inside-out
        fully_shard(block)
    fully_shard(net)
    return net


def full_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with every shard gathered (call on all ranks, in the same order)."""
    return {k: full(v).detach().cpu() for k, v in state.items()}


def optimizer_state(net: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's full state keyed by parameter names (collective)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict  # FSDP only

    return get_optimizer_state_dict(net, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_optimizer_state(net: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Inverse of `optimizer_state` (every rank passes the full state it read from the checkpoint)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict  # FSDP only

    set_optimizer_state_dict(net, opt, state, options=StateDictOptions(full_state_dict=True))
