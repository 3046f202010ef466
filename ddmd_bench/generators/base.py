"""The generator contract shared by the toy track and diffusers recipes."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Generator(Protocol):
    """`generate(prompts, seeds)` -> uint8 [N, 3, H, W]; image i depends only on (prompts[i], seeds[i])."""

    name: str

    def generate(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        """One image per (prompt, seed), whatever the batch size."""

    def describe(self) -> dict[str, Any]:
        """Everything needed to reproduce the images: weights and their sha256, scheduler, steps, guidance, dtype."""

    @property
    def nfe(self) -> int:
        """Denoiser forward passes per image (a guided step counts 2)."""


@runtime_checkable
class ColdStartable(Protocol):
    """A generator whose cold start can be timed: a new instance that has loaded nothing, then its load."""

    def fresh(self) -> ColdStartable:
        """An instance of the same generator that has not loaded its weights yet and shares no cached model."""

    def load(self) -> None:
        """Load the weights now (a no-op once loaded)."""
