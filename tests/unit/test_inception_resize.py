"""The in-memory FID resize equals clean-fid's `clean` resizer bit for bit (clean-fid's features are defined by it),
on every size class: upsampling (64 px), downsampling (512 px), 299 px (no-op), non-square and tiny images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.metrics import inception
from ddmd_bench.metrics.inception import CleanFIDFeatures
from tests.factories import TinyExtractor


def _clean_fid_resize(images: torch.Tensor) -> np.ndarray:
    from cleanfid.resize import build_resizer

    resize = build_resizer("clean")
    # contiguous [B, 3, 299, 299], as clean-fid's DataLoader collates it: the memory layout picks the conv kernel
    return np.ascontiguousarray(np.stack([resize(im.permute(1, 2, 0).numpy()) for im in images]).transpose(0, 3, 1, 2))


@pytest.mark.parametrize("height, width", [(64, 64), (512, 512), (299, 299), (40, 97), (300, 298), (1, 5)])
def test_resize_is_clean_fids_bit_for_bit(height, width):
    # white noise: every pixel's rounding is exercised, unlike smooth images
    g = torch.Generator().manual_seed(height * 1000 + width)
    images = torch.randint(0, 256, (3, 3, height, width), generator=g, dtype=torch.uint8)
    ours = CleanFIDFeatures(network=TinyExtractor()).resize(images).numpy()
    theirs = _clean_fid_resize(images)
    assert ours.dtype == theirs.dtype == np.float32
    assert ours.shape == theirs.shape == (3, 3, 299, 299)
    np.testing.assert_array_equal(ours.view(np.uint32), theirs.view(np.uint32))  # bits, so -0.0 != 0.0 too


def test_pool_keeps_each_image_in_its_slot(monkeypatch):
    """Images resized on several threads land where the serial loop puts them (a swap would still pass a
    permutation-invariant statistic such as FID)."""
    images = torch.stack([torch.full((3, 32, 32), v, dtype=torch.uint8) for v in range(0, 250, 10)])
    inception._pool.cache_clear()
    monkeypatch.setattr(inception, "available_cores", lambda: 4)
    try:
        out = CleanFIDFeatures(network=TinyExtractor()).resize(images)
        assert inception._pool()._max_workers == 4
    finally:
        inception._pool.cache_clear()
    assert out[:, :, 150, 150].tolist() == [[float(v)] * 3 for v in range(0, 250, 10)]


def test_features_equal_clean_fid_resize_then_network():
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (4, 3, 64, 64), generator=g, dtype=torch.uint8)
    net = TinyExtractor()
    with torch.no_grad():
        theirs = net(torch.from_numpy(_clean_fid_resize(images))).numpy()
    np.testing.assert_array_equal(CleanFIDFeatures(network=net)(images).numpy(), theirs)
