"""Centre crop + LANCZOS resize (the one implementation), and the named evaluation transforms built on it.

`centre_crop_resize` serves every caller that brings images to a square size: the evaluation transforms below, the
CLIP-score presets' pre-resize, and `evaluation.resize` (generated images brought to a protocol's resolution).

Evaluation-resolution transforms are applied to images before an FID feature extractor, on both sides.

GigaGAN, DMD and DMD2 do not feed generated images to FID at their native size: both the generated and the reference
images are centre-cropped to a square on the long edge and resized with LANCZOS to the evaluation resolution (256
for SD1.5 on COCO-30k, 512 for SDXL on coco10k), and only then does clean-fid resize them to 299 (docs/protocols.md;
DMD2 `main/coco_eval/coco_evaluator.py`). The transform is therefore part of the extractor's identity: it is appended
to the extractor id, so reference statistics made at another resolution are refused by `FID`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ddmd_bench.metrics.base import check_images
from ddmd_bench.registry import Registry

FILTER = "PIL.Image.LANCZOS"


def centre_crop_resize(image: Image.Image, size: int) -> Image.Image:
    """Centre crop to a square (the long edge is cut), then PIL LANCZOS resize to `size` x `size` (DMD2's eval
    resize). PIL returns a copy for a square image already at `size`."""
    w, h = image.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return image.crop((left, top, left + s, top + s)).resize((size, size), Image.LANCZOS)


def centre_crop_resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """`centre_crop_resize` over uint8 images [N, 3, H, W] -> uint8 [N, 3, size, size] (on the CPU)."""
    pixels = images.permute(0, 2, 3, 1).cpu().numpy()
    out = [np.asarray(centre_crop_resize(Image.fromarray(p), size)) for p in pixels]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


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
        return centre_crop_resize_batch(image[None], self.size)[0]

    def batch(self, images: torch.Tensor) -> torch.Tensor:
        """The transform over a uint8 batch [B, 3, H, W]."""
        images = check_images(images)
        if self.size is None:
            return images
        return centre_crop_resize_batch(images, self.size)


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
