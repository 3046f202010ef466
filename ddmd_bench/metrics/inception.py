"""FID features exactly as clean-fid's `clean` mode computes them, but from in-memory uint8 batches.

clean-fid resizes each channel as a float PIL image (bicubic, to 299x299, no re-quantisation, then clipped to
[0, 255]) and feeds [0, 255] floats to NVIDIA's TorchScript port of the TF Inception. We make the same PIL calls on
the same float32 planes and use clean-fid's `InceptionV3W` wrapper, so only the input path differs: no PNG round
trip, no folder, no DataLoader, and each channel is resized straight into the network's [B, 3, 299, 299] input on a
thread pool instead of through per-image HWC arrays that are concatenated, converted, transposed and collated.

Two resizers give the same bits (RESIZERS): "pillow" calls Pillow per channel on a thread pool (the default);
"banded" reproduces Pillow's arithmetic with batched float64 products on the extractor's device (metrics/bicubic.py).
On a CPU the banded one is the slower (benchmarks/test_bench_fid.py measures the two side by side); it runs the
resize where the extractor runs instead of on the CPU. tests/unit/test_inception_resize.py checks both against
clean-fid's resizer bit for bit.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ddmd_bench import resolver
from ddmd_bench.metrics import bicubic
from ddmd_bench.metrics.base import check_images
from ddmd_bench.registry import Registry
from ddmd_bench.utils.threads import available_cores, local_processes

CLEAN_PREPROCESSING = "clean-fid mode=clean: per-channel float PIL bicubic resize to 299x299, no quantisation"
SIZE = 299

# images per banded resize: a larger chunk allocates float64 buffers of tens of MB per pass, which costs a CPU more
# than the fewer calls save
BANDED_CHUNK = 4
# name -> (checked uint8 images [B, 3, H, W], device) -> float32 [B, 3, 299, 299] clipped to [0, 255]
RESIZERS: Registry[Callable[[torch.Tensor, torch.device], torch.Tensor]] = Registry("clean-fid resizer")


class CleanFIDFeatures:
    """uint8 [B, 3, H, W] -> 2048-d pool features; `network` defaults to clean-fid's TorchScript Inception."""

    dim = 2048
    preprocessing = CLEAN_PREPROCESSING

    def __init__(self, network: torch.nn.Module | None = None, weights: str | Path | None = None,
                 device: torch.device | str = "cpu", network_id: str | None = None, resize: str = "pillow") -> None:
        self.device = torch.device(device)
        self._resize = RESIZERS.get(resize)
        if network is None:
            network, self.weights_sha256 = _load_inception(weights)
            network_id = "inception-2015-12-05 (clean-fid TorchScript)"
        else:
            self.weights_sha256 = "custom"
        self.network = network.eval().to(self.device)
        self.id = f"{network_id or type(network).__name__}|{self.weights_sha256[:12]}|clean"

    def resize(self, images: torch.Tensor) -> torch.Tensor:
        """clean-fid's `clean` resize -> float32 [B, 3, 299, 299] in [0, 255]."""
        return self._resize(check_images(images), self.device)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Features [B, 2048] (float32, as clean-fid returns them)."""
        return self.network(self.resize(images).to(self.device)).float().cpu()


@RESIZERS.register("pillow")
def _pillow_resize(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Pillow per channel on a thread pool (its resampling releases the GIL), each image into its own slice of the
    output, so order and values are those of the serial loop. Runs on the CPU whatever `device` is."""
    planes = images.cpu().numpy()
    out = np.empty((len(planes), 3, SIZE, SIZE), dtype=np.float32)
    list(_pool().map(_resize_into, planes, out))
    return torch.from_numpy(out)


@RESIZERS.register("banded")
def _banded_resize(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Pillow's arithmetic as batched products on `device`; clipped as clean-fid clips (abs_ turns the -0.0 a
    product can give for an all-zero window into Pillow's +0.0 and changes nothing else after the clip)."""
    out = torch.empty((len(images), 3, SIZE, SIZE), dtype=torch.float32, device=device)
    for start in range(0, len(images), BANDED_CHUNK):  # a few images at a time keep the float64 buffers small
        chunk = images[start:start + BANDED_CHUNK].to(device)
        out[start:start + len(chunk)] = bicubic.resize_exact(chunk, SIZE).clamp_(0, 255).abs_()
    return out


def _resize_into(image: np.ndarray, out: np.ndarray) -> None:
    """One uint8 [3, H, W] image into `out` [3, 299, 299]: what clean-fid's `make_resizer("PIL", False, "bicubic")`
    computes (a mode-F image per channel, bicubic resize, clip to [0, 255]), without its HWC concatenate and copy."""
    for channel, plane in enumerate(image):
        resized = Image.fromarray(plane.astype(np.float32)).resize((SIZE, SIZE), resample=Image.BICUBIC)
        np.clip(np.asarray(resized), 0, 255, out=out[channel])


@functools.lru_cache(maxsize=1)
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    # this process's share of the cores (as for torch's threads): resizing and the forward pass never overlap
    workers = max(1, available_cores() // local_processes(os.environ))
    return concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fid-resize")


def _load_inception(weights: str | Path | None) -> tuple[torch.nn.Module, str]:
    from cleanfid.inception_torchscript import InceptionV3W

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
