"""Bring generated images to the protocol's evaluation resolution (e.g. SDXL methods generate 1024, evaluate 512).

Only a track whose metrics take images at one fixed size (the toy track: 16 px) resizes here. Literature protocols
generate at their resolution and leave resizing to each metric (FID's centre crop + LANCZOS, patch FID's crop at
full resolution), so for them a generator at another size is an error, not a silent resize.

Square images are resized with PIL's LANCZOS filter (the filter the literature protocols use for reference images,
docs/protocols.md); non-square images are centre-cropped to a square first (`metrics.transforms.centre_crop_resize`,
the one implementation of both steps). Images already at the resolution pass
through untouched, so the toy track's numbers do not move.
"""

from __future__ import annotations

from typing import Any

import torch

from ddmd_bench.metrics.transforms import FILTER, centre_crop_resize_batch


def to_resolution(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> uint8 [N, 3, resolution, resolution] (the same tensor when already at it)."""
    h, w = images.shape[-2:]
    if h == w == resolution:
        return images
    return centre_crop_resize_batch(images, resolution)


class AtResolution:
    """A generator whose images come out at `resolution`; everything else is the wrapped generator's."""

    def __init__(self, generator, resolution: int, resize: bool) -> None:
        self._inner = generator
        self.resolution = resolution
        self.resize = resize
        self.generated_size: tuple[int, int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def generate(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        images = self._inner.generate(prompts, seeds)
        self.generated_size = tuple(images.shape[-2:])
        if not self.resize and self.generated_size != (self.resolution, self.resolution):
            raise ValueError(resolution_mismatch(self._inner.name, self.generated_size, self.resolution))
        return to_resolution(images, self.resolution)

    def resize_record(self) -> dict[str, Any] | None:
        """What the record says about resizing (None when the images already had the resolution)."""
        if self.generated_size is None or self.generated_size == (self.resolution, self.resolution):
            return None
        return {"generated": list(self.generated_size), "evaluated": self.resolution, "filter": FILTER,
                "crop": "centre square" if self.generated_size[0] != self.generated_size[1] else "none"}


def resolution_mismatch(name: str, size, resolution: int) -> str:
    """The error for a generator whose images do not have the protocol's generation resolution."""
    return (f"{name} generates {size[0]}x{size[1]} images but the protocol generates at {resolution}x{resolution} "
            f"and resizes inside its metrics; drop --resolution or use the recipe's own resolution")
