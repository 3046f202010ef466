"""FID speed: our Fréchet distance vs clean-fid's on 2048-d statistics, and the in-memory feature path vs
clean-fid's folder path on the same images and extractor. Run with `make bench`; figures go in the README."""

from __future__ import annotations

import concurrent.futures
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks import sidebyside
from ddmd_bench.metrics import functional as F
from ddmd_bench.metrics import inception
from ddmd_bench.metrics.inception import CleanFIDFeatures
from tests.factories import TinyExtractor


@pytest.fixture(scope="module")
def stats_2048():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4096, 2048)) @ rng.normal(scale=0.05, size=(2048, 2048))
    y = rng.normal(size=(4096, 2048)) @ rng.normal(scale=0.05, size=(2048, 2048)) + 0.01
    return x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)


def test_frechet_ours_vs_clean_fid_2048(benchmark, stats_2048):
    """Ours (Cholesky factor + eigvalsh) and clean-fid's (scipy sqrtm) alternate in the same process; run with one
    BLAS thread (`make bench` sets it) so neither gets more cores."""
    from cleanfid.fid import frechet_distance

    ratio = sidebyside.compare("frechet_2048d", lambda: F.frechet_distance(*stats_2048),
                               lambda: frechet_distance(*stats_2048), rounds=3, baseline="clean-fid frechet_distance")
    benchmark.extra_info.update(ratio)
    ours = benchmark.pedantic(F.frechet_distance, args=stats_2048, rounds=1, warmup_rounds=0)
    assert ours == pytest.approx(frechet_distance(*stats_2048), rel=1e-6)


def test_frechet_cholesky_vs_eigh_2048(benchmark, stats_2048):
    """The Cholesky path against the symmetric square-root form it replaces (both exact)."""
    ratio = sidebyside.compare("frechet_2048d_cholesky_vs_eigh", lambda: F.frechet_distance(*stats_2048),
                               lambda: F.frechet_distance(*stats_2048, method="eigh"), rounds=3,
                               baseline="ours, eigh(sqrt(s1) s2 sqrt(s1))")
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(F.frechet_distance, args=stats_2048, rounds=1, warmup_rounds=0)


# 64 px: resize-bound, the least favourable case for us; 512 px: SD1.5's generation size (coco30k-256 generates 512,
# MLPerf and DMD2-SDXL 1024), where clean-fid's folder path also pays for PNG decoding.
@pytest.fixture(scope="module", params=[(64, 64), (32, 512)], ids=["64x64px", "32x512px"])
def image_folder(tmp_path_factory, request):
    n, size = request.param
    folder = tmp_path_factory.mktemp("imgs")
    # smooth random images (PNG-compressible, like generated ones), not white noise
    low = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.interpolate(low, size=size, mode="bicubic").clamp(0, 1)
    images = (smooth * 255).round().to(torch.uint8)
    for i, im in enumerate(images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return folder, images


def test_features_in_memory(benchmark, image_folder, request):
    """In-memory features vs clean-fid's folder path on the same images and extractor, alternating; then the same
    with the resize pool cut to one thread (what removing copies alone gives), the input path alone (our
    network input vs the batch clean-fid's DataLoader collates), which the network's cost does not dilute, and
    the banded resizer against the Pillow one (same bits, asserted)."""
    from cleanfid.fid import get_folder_features
    from cleanfid.utils import ResizeDataset

    folder, images = image_folder
    extractor = CleanFIDFeatures(network=TinyExtractor())
    net = TinyExtractor()
    workers = inception._pool()._max_workers
    one_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def folder_path():
        return get_folder_features(str(folder), model=net, num_workers=0, batch_size=len(images),
                                   device=torch.device("cpu"), mode="clean", verbose=False)

    def ours_one_thread():
        with mock.patch.object(inception, "_pool", lambda: one_thread):
            return extractor(images)

    def folder_batch():
        files = sorted(str(f) for f in folder.glob("*.png"))
        loader = torch.utils.data.DataLoader(ResizeDataset(files, mode="clean"), batch_size=len(files), num_workers=0)
        return next(iter(loader))

    assert torch.equal(extractor.resize(images), folder_batch())
    size = request.node.callspec.id
    baseline = "clean-fid get_folder_features (PNG folder, num_workers=0)"
    ratio = sidebyside.compare(f"features_{size}", lambda: extractor(images), folder_path, rounds=5,
                               baseline=f"{baseline}; ours resizes on {workers} thread(s)",
                               target=sidebyside.Target(min_speedup=2.0) if size == "64x64px" else None)
    sidebyside.compare(f"features_{size}_one_resize_thread", ours_one_thread, folder_path, rounds=5,
                       baseline=baseline)
    sidebyside.compare(f"features_input_{size}", lambda: extractor.resize(images), folder_batch, rounds=5,
                       baseline=f"clean-fid ResizeDataset + DataLoader batch; ours resizes on {workers} thread(s)")
    # the exact batched resize (Pillow's arithmetic as float64 banded products) against the Pillow resizer
    banded = CleanFIDFeatures(network=TinyExtractor(), resize="banded")
    assert torch.equal(banded.resize(images).view(torch.int32), extractor.resize(images).view(torch.int32))
    sidebyside.compare(f"features_input_{size}_banded", lambda: banded.resize(images),
                       lambda: extractor.resize(images), rounds=5,
                       baseline=f"ours, Pillow per channel on {workers} thread(s)")
    benchmark.extra_info.update(ratio)
    benchmark.pedantic(extractor, args=(images,), rounds=1, warmup_rounds=0)


def test_features_clean_fid_folder(benchmark, image_folder):
    from cleanfid.fid import get_folder_features

    folder, images = image_folder
    net = TinyExtractor()
    theirs = benchmark.pedantic(get_folder_features, args=(str(folder),),
                                kwargs=dict(model=net, num_workers=0, batch_size=len(images),
                                            device=torch.device("cpu"),
                                            mode="clean", verbose=False), rounds=3, warmup_rounds=1)
    np.testing.assert_array_equal(CleanFIDFeatures(network=net)(images).numpy(), theirs)


def test_features_clean_fid_folder_including_png_writes(benchmark, image_folder, tmp_path):
    """What a user of clean-fid pays to score in-memory images: write them as PNG files, then the folder path."""
    from cleanfid.fid import get_folder_features

    _, images = image_folder
    net = TinyExtractor()

    def write_and_read():
        folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        for i, im in enumerate(images):
            Image.fromarray(im.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
        return get_folder_features(str(folder), model=net, num_workers=0, batch_size=len(images),
                                   device=torch.device("cpu"), mode="clean", verbose=False)

    theirs = benchmark.pedantic(write_and_read, rounds=3, warmup_rounds=1)
    np.testing.assert_array_equal(CleanFIDFeatures(network=net)(images).numpy(), theirs)
