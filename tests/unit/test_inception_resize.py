"""The in-memory FID resize equals clean-fid's `clean` resizer bit for bit (clean-fid's features are defined by it),
with either resizer, on every size class: upsampling (64 px), downsampling (512 px), 299 px (no-op), non-square,
tiny images, and sizes where Pillow 13 runs its vertical pass first (the height shrinks more than twice the width)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.metrics import bicubic, inception
from ddmd_bench.metrics.inception import CleanFIDFeatures
from tests.factories import TinyExtractor


def _clean_fid_resize(images: torch.Tensor) -> np.ndarray:
    from cleanfid.resize import build_resizer

    resize = build_resizer("clean")
    # contiguous [B, 3, 299, 299], as clean-fid's DataLoader collates it: the memory layout picks the conv kernel
    return np.ascontiguousarray(np.stack([resize(im.permute(1, 2, 0).numpy()) for im in images]).transpose(0, 3, 1, 2))


SIZES = [(64, 64), (512, 512), (299, 299), (40, 97), (300, 298), (1, 5), (1024, 300), (97, 40), (299, 17)]


@pytest.mark.parametrize("resize", inception.RESIZERS.names())
@pytest.mark.parametrize("height, width", SIZES)
def test_resize_is_clean_fids_bit_for_bit(height, width, resize):
    # white noise: every pixel's rounding is exercised, unlike smooth images
    g = torch.Generator().manual_seed(height * 1000 + width)
    images = torch.randint(0, 256, (3, 3, height, width), generator=g, dtype=torch.uint8)
    ours = CleanFIDFeatures(network=TinyExtractor(), resize=resize).resize(images).numpy()
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


def test_banded_undecided_outputs_are_recomputed_in_pillows_order(monkeypatch):
    """A margin large enough to leave most outputs undecided sends them through the tap-by-tap recomputation, which
    must give Pillow's bits too (with the real margin it runs for a small fraction of the outputs)."""
    monkeypatch.setattr(bicubic.BandedPass, "margin", property(lambda self: 1e-4))
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (2, 3, 48, 70), generator=g, dtype=torch.uint8)
    undecided = []
    real = bicubic._pillow_order
    monkeypatch.setattr(bicubic, "_pillow_order", lambda x, plan, out, col: undecided.append(len(out)) or
                        real(x, plan, out, col))
    ours = CleanFIDFeatures(network=TinyExtractor(), resize="banded").resize(images).numpy()
    assert sum(undecided) > 100_000
    np.testing.assert_array_equal(ours.view(np.uint32), _clean_fid_resize(images).view(np.uint32))


def test_bicubic_kernel_golden_values():
    # Keys' cubic with a = -0.5: 1 at 0, 0 at the integers, 9/16 at 1/2, -1/16 at 3/2, 0 beyond 2
    x = np.array([0.0, 0.5, -0.5, 1.0, 1.5, -1.5, 2.0, 2.5])
    np.testing.assert_array_equal(bicubic.bicubic_kernel(x), [1.0, 0.5625, 0.5625, 0.0, -0.0625, -0.0625, 0.0, 0.0])


@pytest.mark.parametrize("in_size", [64, 299, 512, 1024])
def test_pillow_coefficients_cover_the_input_and_sum_to_one(in_size):
    first, weights = bicubic.pillow_coefficients(in_size, 299)
    assert first[0] == 0 and first.min() >= 0 and (np.diff(first) >= 0).all()
    np.testing.assert_allclose(weights.sum(1), 1.0, rtol=0, atol=1e-12)


def test_unknown_resizer_is_refused_with_the_choices():
    with pytest.raises(KeyError, match="pillow.*banded|banded.*pillow"):
        CleanFIDFeatures(network=TinyExtractor(), resize="pil")
