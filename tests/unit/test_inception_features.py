"""The in-memory FID feature path equals clean-fid's folder path on the same images and extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddmd_bench.metrics.inception import CleanFIDFeatures
from tests.factories import TinyExtractor


def _images(n=6, size=40):
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize("resize", ["pillow", "banded"])
def test_in_memory_features_equal_clean_fid_folder_features(tmp_path, resize):
    from cleanfid.fid import get_folder_features

    images = _images()
    for i, im in enumerate(images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(tmp_path / f"{i:03d}.png")
    net = TinyExtractor()
    ours = CleanFIDFeatures(network=net, resize=resize)(images).numpy()
    theirs = get_folder_features(str(tmp_path), model=net, num_workers=0, batch_size=len(images),
                                 device=torch.device("cpu"), mode="clean", verbose=False)
    np.testing.assert_array_equal(ours, theirs)  # same resizer, same network, same batch: bit-identical


def test_resize_is_clean_fid_resize():
    from cleanfid.resize import build_resizer

    images = _images(2, 33)
    ours = CleanFIDFeatures(network=TinyExtractor()).resize(images)
    ref = build_resizer("clean")(images[1].permute(1, 2, 0).numpy())
    assert ours.shape == (2, 3, 299, 299) and ours.dtype == torch.float32
    np.testing.assert_array_equal(ours[1].permute(1, 2, 0).numpy(), ref)


def test_features_do_not_depend_on_batch_composition():
    extractor = CleanFIDFeatures(network=TinyExtractor())
    images = _images(6)
    together = extractor(images)
    apart = torch.cat([extractor(images[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(together, apart, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad, error", [(torch.zeros(2, 3, 8, 8), TypeError), (torch.zeros(2, 4, 8, 8,
                                                                                          dtype=torch.uint8),
                                                                               ValueError)])
def test_bad_images_are_refused(bad, error):
    with pytest.raises(error):
        CleanFIDFeatures(network=TinyExtractor())(bad)


def test_missing_inception_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("DDMD_BENCH_INCEPTION", raising=False)
    import tempfile

    if (tmp_path.parent / "inception-2015-12-05.pt").exists() or \
            __import__("os").path.exists(f"{tempfile.gettempdir()}/inception-2015-12-05.pt"):
        pytest.skip("Inception weights are present on this machine")
    from ddmd_bench.resolver import WeightsNotFound

    with pytest.raises(WeightsNotFound, match="inception-2015-12-05.pt not found.*DDMD_BENCH_INCEPTION"):
        CleanFIDFeatures()
