"""CMMD ("Rethinking FID", Jayasumana et al. 2024): the Gaussian-kernel MMD between CLIP image embeddings of the
generated and the reference images, on any embedding backbone.

The published definition embeds with CLIP ViT-L/14 at 336 px (OpenAI weights): centre crop to a square, bicubic
resize to 336, CLIP's mean/std normalisation; embeddings are L2-normalised and compared with the biased MMD^2
estimator, sigma = 10, printed x 1000 (`kernel_functional.cmmd`). Any other backbone (the toy track's CLIP, a tiny
random test model) goes through the same `ClipEmbedder` and metric; its id and preprocessing are in the spec.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import kernel_functional as kernel_fn
from ddmd_bench.metrics.base import MetricValue, check_images
from ddmd_bench.metrics.feature_sets import FeatureSet, ReferenceFeatures

CMMD_MODEL = "ViT-L-14-336-quickgelu"  # open_clip's config for OpenAI's ViT-L/14@336 (OpenAI CLIP uses QuickGELU)
CMMD_SIZE = 336
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's normalisation constants (OpenAI CLIP release)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def cmmd_preprocessing(size: int = CMMD_SIZE) -> str:
    """The recorded description of `crop_resize_normalise` at `size`."""
    return f"centre crop to a square, PIL bicubic resize to {size}, x/255, CLIP mean/std normalisation (OpenAI)"


# open_clip's hub copy of the OpenAI weights, listed with every other known weight file (`doctor` shows it); no
# publisher sha256, so the resolved file's hash is recorded in the spec instead.
CMMD_WEIGHTS = resolver.WEIGHTS.get("openclip-vit-l-14-336-openai")


def crop_resize_normalise(image: Image.Image, size: int = CMMD_SIZE) -> torch.Tensor:
    """The published CMMD preprocessing of one PIL image -> float [3, size, size] (see `cmmd_preprocessing`)."""
    w, h = image.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    square = image.convert("RGB").crop((left, top, left + s, top + s)).resize((size, size), Image.BICUBIC)
    pixels = torch.from_numpy(np.asarray(square, np.float32) / 255.0).permute(2, 0, 1)
    return (pixels - torch.tensor(OPENAI_MEAN).view(3, 1, 1)) / torch.tensor(OPENAI_STD).view(3, 1, 1)


class ClipEmbedder:
    """uint8 images -> image embeddings [B, dim] of any model with open_clip's `encode_image`, after `transform`
    (PIL image -> float tensor). The id names the model and, through a hash, the preprocessing, so reference
    embeddings made with another transform are refused."""

    def __init__(self, model, transform: Callable[[Image.Image], torch.Tensor], model_id: str, weights_sha256: str,
                 preprocessing: str, dim: int) -> None:
        self.model, self.transform = model.eval(), transform
        self.weights_sha256, self.preprocessing, self.dim = weights_sha256, preprocessing, dim
        self.id = f"{model_id}|{hashlib.sha256(preprocessing.encode()).hexdigest()[:12]}"

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings of a batch (not normalised: CMMD normalises them itself)."""
        pixels = torch.stack([self.transform(Image.fromarray(im.permute(1, 2, 0).numpy()))
                              for im in check_images(images).cpu()])
        return self.model.encode_image(pixels).float()


class CMMD(FeatureSet):
    """CMMD between the generated images' embeddings and a reference set's (lower is better)."""

    kind = catalog.CMMD
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def __init__(self, embedder, reference: ReferenceFeatures, sigma: float = kernel_fn.CMMD_SIGMA,
                 scale: float = kernel_fn.CMMD_SCALE) -> None:
        self.sigma, self.scale = float(sigma), float(scale)
        super().__init__(embedder, reference)

    def compute(self) -> MetricValue:
        """CMMD over everything seen (float64). A set metric: no per-sample scores and no interval."""
        generated = self._generated()
        value = kernel_fn.cmmd(generated, self.reference.features, self.sigma, self.scale)
        return MetricValue(value=value, n=len(generated), details={"reference_n": self.reference.n})

    def spec(self) -> dict[str, Any]:
        """Backbone, weights, preprocessing, reference set, kernel and estimator."""
        return self.kind.spec(**self._identity(), embedding_normalisation="L2", kernel="gaussian",
                              sigma=self.sigma, estimator=catalog.CMMD_ESTIMATOR, scale=self.scale)


def load_clip_embedder(model_name: str, spec: resolver.WeightSpec, weights: str | Path | None = None,
                       size: int = CMMD_SIZE) -> ClipEmbedder:
    """An open_clip model's image embedder with CMMD's preprocessing at `size`; weights resolve offline-first
    (`ddmd_bench.resolver`) and their sha256 goes into the identity."""
    import open_clip  # a heavy backend, imported only when a CLIP backbone is built

    path = resolver.resolve(spec, explicit=weights)
    model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=str(path))
    return ClipEmbedder(model, partial(crop_resize_normalise, size=size),
                        model_id=f"open_clip:{model_name}:{spec.name}", weights_sha256=resolver.sha256_file(path), preprocessing=cmmd_preprocessing(size),
                        dim=int(model.visual.output_dim))


def clip_vit_l14_336(weights: str | Path | None = None) -> ClipEmbedder:
    """The published CMMD backbone: open_clip ViT-L/14@336 with OpenAI weights."""
    return load_clip_embedder(CMMD_MODEL, CMMD_WEIGHTS, weights)
