"""FD-DINOv2 (Stein et al. 2023, "Exposing flaws of generative model evaluation metrics"; used by EDM2): the
Fréchet distance of `functional.frechet_distance`, in float64, between Gaussians fitted to DINOv2 ViT-L/14 CLS
features (1024-d, after the final layer norm, not normalised) of the generated and the reference images.

Preprocessing is dgm-eval's: PIL bicubic resize of the whole image to 224 x 224 (no crop, the aspect ratio is not
kept), x/255, ImageNet mean/std. At 224 px the network sees a 16 x 16 patch grid, while the checkpoint's position
embeddings are a 37 x 37 grid (518 px): DINOv2's own code resamples them bicubically with a scale factor of
(16 + 0.1) / 37 (the 0.1 offset is DINO's guard against rounding), which transformers' `Dinov2Model` does not
(it resizes to the target size exactly). The extractor therefore resamples them once, DINOv2's way, and installs
the 16 x 16 grid, so the features are those of the reference code (scripts/fd_dinov2_parity.py measures it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.fid import FID

SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POSITION_OFFSET = 0.1  # DINOv2 vision_transformer.interpolate_pos_encoding
WEIGHTS = ("dinov2-vit-l14", "dinov2-vit-l14-config")  # resolver.WEIGHTS names, one snapshot folder
PREPROCESSING = (f"PIL bicubic resize to {SIZE}x{SIZE} (no crop), x/255, ImageNet mean/std; position embeddings "
                 f"resampled bicubic with scale (grid + {POSITION_OFFSET}) / 37 as in DINOv2's code")


def resize_normalise(image: Image.Image, size: int = SIZE) -> torch.Tensor:
    """dgm-eval's DINOv2 transform of one PIL image -> float [3, size, size]."""
    pixels = np.asarray(image.convert("RGB").resize((size, size), Image.BICUBIC), np.float32) / 255.0
    t = torch.from_numpy(pixels).permute(2, 0, 1)
    return (t - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)


def resample_positions(positions: torch.Tensor, grid: int, offset: float = POSITION_OFFSET) -> torch.Tensor:
    """Position embeddings [1, 1 + M*M, d] -> [1, 1 + grid*grid, d] the way DINOv2's reference code does it:
    bicubic, with the scale factor (grid + offset) / M rather than the target size."""
    cls, patches = positions[:, :1], positions[:, 1:].float()
    m, dim = int(math.isqrt(patches.shape[1])), patches.shape[-1]
    scale = (grid + offset) / m
    out = torch.nn.functional.interpolate(patches.reshape(1, m, m, dim).permute(0, 3, 1, 2),
                                          scale_factor=(scale, scale), mode="bicubic")
    if out.shape[-2:] != (grid, grid):
        raise ValueError(f"resampling a {m}x{m} position grid gave {list(out.shape[-2:])}, not {grid}x{grid}")
    return torch.cat([cls, out.permute(0, 2, 3, 1).reshape(1, grid * grid, dim).to(positions.dtype)], 1)


class DinoV2Features:
    """uint8 images -> DINOv2 CLS features [B, hidden] (a `fid.FeatureExtractor`)."""

    def __init__(self, model, model_id: str, weights_sha256: str, size: int = SIZE) -> None:
        self.model, self.size = model.eval(), size
        self.id, self.weights_sha256, self.preprocessing = model_id, weights_sha256, PREPROCESSING
        self.dim = int(model.config.hidden_size)
        grid = size // int(model.config.patch_size)
        embeddings = model.embeddings
        with torch.no_grad():
            resampled = resample_positions(embeddings.position_embeddings.data, grid)
        embeddings.position_embeddings = torch.nn.Parameter(resampled, requires_grad=False)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """CLS features of a batch (the final layer norm applied, as DINOv2's `x_norm_clstoken`)."""
        pixels = torch.stack([resize_normalise(Image.fromarray(im.permute(1, 2, 0).numpy()), self.size)
                              for im in images.cpu()])
        return self.model(pixel_values=pixels).last_hidden_state[:, 0].float()


class FDDinoV2(FID):
    """FD-DINOv2 (lower is better): FID's streaming state and float64 Fréchet distance, in DINOv2's feature space."""

    kind = catalog.FD_DINOV2
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better


def load_dinov2(folder: str | Path, weights_sha256: str, model_id: str = "facebook/dinov2-large") -> DinoV2Features:
    """The extractor from a transformers Dinov2Model folder (config + weights)."""
    from transformers import Dinov2Model  # a heavy backend, imported only when the metric is built

    return DinoV2Features(Dinov2Model.from_pretrained(str(folder)), f"dinov2:{model_id}@{SIZE}", weights_sha256)


def build_dinov2(allow_download: bool = True) -> DinoV2Features:
    """DINOv2 ViT-L/14 through the one resolver (both files land in the repository's snapshot folder)."""
    paths = [resolver.resolve(resolver.WEIGHTS.get(n), allow_download=allow_download) for n in WEIGHTS]
    return load_dinov2(paths[0].parent, resolver.sha256_file(paths[0]))
