"""FID features exactly as clean-fid's `clean` mode computes them, but from in-memory uint8 batches.

clean-fid resizes each channel as a float PIL image (bicubic, to 299x299, no re-quantisation) and feeds [0, 255]
floats to NVIDIA's TorchScript port of the TF Inception. We call clean-fid's own resizer and its `InceptionV3W`
wrapper, so only the input path differs: no PNG round trip, no folder, no DataLoader.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from pathlib import Path

import numpy as np
import torch

from ddmd_bench.metrics.base import check_images

CLEAN_PREPROCESSING = "clean-fid mode=clean: per-channel float PIL bicubic resize to 299x299, no quantisation"


class CleanFIDFeatures:
    """uint8 [B, 3, H, W] -> 2048-d pool features; `network` defaults to clean-fid's TorchScript Inception."""

    dim = 2048
    preprocessing = CLEAN_PREPROCESSING

    def __init__(self, network: torch.nn.Module | None = None, weights: str | Path | None = None,
                 device: torch.device | str = "cpu", network_id: str | None = None) -> None:
        from cleanfid.resize import build_resizer

        self.device = torch.device(device)
        self._resize = build_resizer("clean")
        if network is None:
            network, self.weights_sha256 = _load_inception(weights)
            network_id = "inception-2015-12-05 (clean-fid TorchScript)"
        else:
            self.weights_sha256 = "custom"
        self.network = network.eval().to(self.device)
        self.id = f"{network_id or type(network).__name__}|{self.weights_sha256[:12]}|clean"

    def resize(self, images: torch.Tensor) -> torch.Tensor:
        """clean-fid's resizer per image -> float32 [B, 3, 299, 299] in [0, 255]. Images are resized on a thread
        pool (PIL's resampling releases the GIL); `map` keeps their order, so the output is unchanged."""
        arrays = list(_pool().map(self._resize, [im.permute(1, 2, 0).numpy() for im in check_images(images)]))
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Features [B, 2048] (float32, as clean-fid returns them)."""
        return self.network(self.resize(images).to(self.device)).float().cpu()


@functools.lru_cache(maxsize=1)
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="fid-resize")


def _load_inception(weights: str | Path | None) -> tuple[torch.nn.Module, str]:
    from cleanfid.inception_torchscript import InceptionV3W

    from ddmd_bench import resolver

    path = resolver.resolve(resolver.WEIGHTS.get("inception-fid"), explicit=weights)
    return InceptionV3W(str(path.parent), download=False), resolver.sha256_file(path)


class PatchFIDFeatures(CleanFIDFeatures):
    """DMD2's "patch FID": the centre 299x299 crop at full resolution, fed to Inception without any resize."""

    preprocessing = "centre 299x299 crop at full resolution, no resize (DMD2 patch FID)"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.id = self.id.replace("|clean", "|patch299")

    def resize(self, images: torch.Tensor) -> torch.Tensor:
        """Centre crop; images smaller than 299 px are an error (patch FID is defined at full resolution)."""
        images = check_images(images)
        h, w = images.shape[-2:]
        if h < 299 or w < 299:
            raise ValueError(f"patch FID needs images of at least 299x299, got {h}x{w}")
        top, left = (h - 299) // 2, (w - 299) // 2
        return images[:, :, top:top + 299, left:left + 299].float()
