"""Centre crop + LANCZOS has one implementation (`metrics.transforms.centre_crop_resize`); every caller that brings
images to a square size (FID's evaluation transforms, the CLIP presets' pre-resize, generated images brought to a
protocol's resolution) gives bit-identical images, equal to cropping the centre square and resizing it with PIL."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddmd_bench.evaluation.resize import to_resolution
from ddmd_bench.metrics import clip_presets
from ddmd_bench.metrics.transforms import EVAL_TRANSFORMS, centre_crop_resize, centre_crop_resize_batch


def _images(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _oracle(images: torch.Tensor, size: int) -> torch.Tensor:
    """Slice the centre square out of the tensor, then PIL LANCZOS: the crop written independently of PIL's."""
    h, w = images.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crops = images[:, :, top:top + side, left:left + side].permute(0, 2, 3, 1).numpy()
    out = [np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize((size, size), Image.LANCZOS)) for c in crops]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def _clip_pre_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """The dmd2 CLIP preset's preprocessing up to CLIP's own transform (replaced here by the identity)."""
    preset = clip_presets.PRESETS.get("dmd2")
    assert preset.pre_resize == 256 and size == 256
    metric = clip_presets.preset_metric(preset, torch.nn.Identity(), lambda image: image, str, "none", "0" * 64)
    return torch.stack([torch.from_numpy(np.array(metric.preprocess(Image.fromarray(im.permute(1, 2, 0).numpy()))))
                        .permute(2, 0, 1) for im in images])


def test_crops_the_long_edge_then_lanczos():
    img = Image.fromarray(np.arange(16 * 32 * 3, dtype=np.uint8).reshape(16, 32, 3))
    out = centre_crop_resize(img, 8)
    expected = img.crop((8, 0, 24, 16)).resize((8, 8), Image.LANCZOS)
    assert out.size == (8, 8) and np.array_equal(np.asarray(out), np.asarray(expected))


@pytest.mark.parametrize("shape", [(300, 260), (260, 300), (301, 300), (256, 256), (200, 200)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_caller_gives_the_same_pixels(shape):
    images = _images(3, *shape)
    want = _oracle(images, 256)
    callers = {
        "centre_crop_resize_batch": centre_crop_resize_batch(images, 256),
        "evaluation.resize.to_resolution": to_resolution(images, 256),
        "EVAL_TRANSFORMS batch": EVAL_TRANSFORMS.get("crop-lanczos-256").batch(images),
        "EVAL_TRANSFORMS one": torch.stack([EVAL_TRANSFORMS.get("crop-lanczos-256").one(im) for im in images]),
        "clip preset dmd2": _clip_pre_resize(images, 256),
    }
    for name, got in callers.items():
        assert got.dtype == torch.uint8 and got.shape == (3, 3, 256, 256), name
        assert torch.equal(got, want), f"{name} differs from a centre crop + PIL LANCZOS"


def test_images_already_at_the_size_pass_through_unchanged():
    images = _images(2, 16, 16)
    assert to_resolution(images, 16) is images
    assert torch.equal(centre_crop_resize_batch(images, 16), images)
