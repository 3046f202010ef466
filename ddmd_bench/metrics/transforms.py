"""Evaluation-resolution transforms applied to images before an FID feature extractor, on both sides.

GigaGAN, DMD and DMD2 do not feed generated images to FID at their native size: both the generated and the reference
images are centre-cropped to a square on the long edge and resized with LANCZOS to the evaluation resolution (256
for SD1.5 on COCO-30k, 512 for SDXL on coco10k), and only then does clean-fid resize them to 299 (PROTOCOLS.md §5;
DMD2 `main/coco_eval/coco_evaluator.py`). The transform is therefore part of the extractor's identity: it is appended
to the extractor id, so reference statistics made at another resolution are refused by `FID`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ddmd_bench.metrics.base import check_images
from ddmd_bench.registry import Registry


@dataclass(frozen=True, slots=True)
class EvalTransform:
    """A named per-image transform; `size=None` is the identity (the extractor sees the image as generated)."""

    name: str
    size: int | None
    description: str

    def one(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 [3, H, W] -> uint8 [3, size, size] (or the image itself for the identity)."""
        if self.size is None:
            return image
        from PIL import Image

        from ddmd_bench.metrics.clip_presets import centre_crop_resize

        pil = Image.fromarray(image.permute(1, 2, 0).numpy())
        return torch.from_numpy(np.array(centre_crop_resize(self.size)(pil))).permute(2, 0, 1).contiguous()

    def batch(self, images: torch.Tensor) -> torch.Tensor:
        """The transform over a uint8 batch [B, 3, H, W]."""
        images = check_images(images)
        if self.size is None:
            return images
        return torch.stack([self.one(im) for im in images])


EVAL_TRANSFORMS: Registry[EvalTransform] = Registry("evaluation transform")
for _t in (
    EvalTransform("none", None, "none (the extractor sees the full image)"),
    EvalTransform("crop-lanczos-256", 256, "centre crop to a square on the long edge, PIL LANCZOS resize to 256x256"),
    EvalTransform("crop-lanczos-512", 512, "centre crop to a square on the long edge, PIL LANCZOS resize to 512x512"),
):
    EVAL_TRANSFORMS.add(_t.name, _t)


class TransformedFeatures:
    """A feature extractor seen through an evaluation transform: same features, extended identity."""

    def __init__(self, inner, transform: EvalTransform) -> None:
        self.inner, self.transform = inner, transform
        self.dim, self.weights_sha256 = inner.dim, inner.weights_sha256
        self.id = inner.id if transform.size is None else f"{inner.id}|{transform.name}"
        self.preprocessing = inner.preprocessing if transform.size is None else \
            f"{transform.description}; then {inner.preprocessing}"

    @property
    def prepare(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Per-image part of the pipeline, so a folder of mixed-size reference images can be batched after it."""
        return self.transform.one

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Features of the transformed batch (the transform is idempotent, so prepared images pass unchanged)."""
        return self.inner(self.transform.batch(images))
