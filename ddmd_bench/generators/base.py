"""The generator contract shared by every track and backend, and the optional capabilities a generator may add.

`Generator` is what the runner needs from anything that makes images. A generator may also offer the capabilities
below; the runner asks for each with `isinstance` against its protocol (they are `runtime_checkable`), so a
generator that lacks one is run without it and its record says so, never guessed at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: listing generators must not load torch
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


@runtime_checkable
class Staged(Protocol):
    """A generator that times the stages of its last `generate` call (text encoding, denoising, decoding)."""

    def stage_seconds(self) -> dict[str, float]:
        """Wall time of each stage of the last `generate` call."""


@runtime_checkable
class Traced(Protocol):
    """A generator that records what its denoiser was called with during its last `generate` call."""

    @property
    def last_trace(self) -> dict[str, Any] | None:
        """Calls, timesteps, batch per image and guidance seen by the denoiser (None before any call)."""


@runtime_checkable
class Placed(Protocol):
    """A generator that runs on a chosen device (latency is timed there)."""

    @property
    def device(self) -> torch.device:
        """The device the generator's models run on."""


@runtime_checkable
class FixedResolution(Protocol):
    """A generator that states its image size before generating (a diffusers recipe's `resolution`)."""

    @property
    def resolution(self) -> int:
        """Height and width of the images it generates."""
