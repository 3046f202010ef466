"""Exponential moving average of model weights (EDM-style warm-up so early averages are not dominated by init)."""

from __future__ import annotations

import copy

import torch


class EMA:
    """Keeps `shadow`, an averaged copy of `model`; decay ramps as min(decay, (1 + n) / (10 + n))."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0
        self._pairs: tuple[tuple[int, int], list[tuple[torch.Tensor, torch.Tensor]]] | None = None

    def _trainable_pairs(self, model: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(average, current) for every trainable weight. Walking a LoRA-wrapped model's parameters costs tens of
        milliseconds, so the pairs are kept while the model and its first parameter are the same objects (a new
        model, or FSDP re-creating its parameters, rebuilds them)."""
        key = (id(model), id(next(model.parameters())))
        if self._pairs is None or self._pairs[0] != key:
            pairs = [(avg, cur) for avg, cur in zip(self.shadow.parameters(), model.parameters())
                     if cur.requires_grad]  # frozen weights never move, so their average is already exact
            self._pairs = (key, pairs)
        return self._pairs[1]

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """One EMA step towards `model`'s current weights."""
        self.updates += 1
        beta = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, cur in self._trainable_pairs(model):
            whole = cur.full_tensor() if hasattr(cur, "full_tensor") else cur  # an FSDP shard: gather it
            avg.lerp_(whole.detach(), 1.0 - beta)

    def state_dict(self) -> dict:
        """Serializable state."""
        return {"shadow": self.shadow.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict()`."""
        self.shadow.load_state_dict(state["shadow"])
        self.updates = state["updates"]
