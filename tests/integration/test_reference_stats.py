"""`ddmd-bench stats make / info` with the toy extractor; identity checks on reference files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ddmd_bench.cli import main
from ddmd_bench.metrics import reference
from ddmd_bench.metrics.fid import FID
from ddmd_bench.tracks.toy import world


@pytest.fixture
def folder(tmp_path):
    images = world.make_batch(list(range(64)), noise=world.CLEAN).images
    d = tmp_path / "real"
    d.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(d / f"{i:03d}.png")
    return d, images


def test_make_and_info_round_trip(tmp_path, folder):
    d, images = folder
    out = tmp_path / "ref.npz"
    made = CliRunner().invoke(main, ["stats", "make", str(d), "--extractor", "toy", "--out", str(out)])
    assert made.exit_code == 0, made.output
    shown = json.loads(CliRunner().invoke(main, ["stats", "info", str(out)]).output)
    assert shown["n"] == 64 and shown["extractor_id"].startswith("toy-classifier-features-128d@")
    assert len(shown["sha256"]) == 64 and shown["preprocessing"]
    stats, _ = reference.load(out)
    extractor = reference.EXTRACTORS.get("toy")()
    fid = FID(extractor, stats)
    fid.update(images, [""] * len(images))
    # The same images against their own statistics: zero up to round-off. With n=64 < d=128 the covariance is
    # rank-deficient and the square root's round-off is ~1e-8 of the largest eigenvalue per null direction.
    assert abs(fid.compute().value) < 1e-6 * np.trace(stats.sigma)


def test_zip_source_gives_identical_statistics(tmp_path, folder):
    d, _ = folder
    z = tmp_path / "real.zip"
    with zipfile.ZipFile(z, "w") as archive:
        for p in sorted(d.iterdir()):
            archive.write(p, p.name)
    extractor = reference.EXTRACTORS.get("toy")()
    reference.make(d, extractor, tmp_path / "a.npz")
    reference.make(z, extractor, tmp_path / "b.npz")
    (a, _), (b, _) = reference.load(tmp_path / "a.npz"), reference.load(tmp_path / "b.npz")
    # Compare the statistics themselves (info() reports only their shapes).
    assert np.array_equal(a.mu, b.mu) and np.array_equal(a.sigma, b.sigma) and a.n == b.n == 64


def test_edited_reference_file_is_refused(tmp_path, folder):
    d, _ = folder
    out = tmp_path / "ref.npz"
    reference.make(d, reference.EXTRACTORS.get("toy")(), out)
    with np.load(out) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["mu"] = arrays["mu"] + 1.0
    np.savez(out, **arrays)
    with pytest.raises(ValueError, match="does not match its recorded sha256"):
        reference.load(out)
    bad = CliRunner().invoke(main, ["stats", "info", str(out)])
    assert bad.exit_code != 0 and "sha256" in bad.output


def test_reference_from_another_extractor_is_refused(tmp_path, folder):
    d, _ = folder
    reference.make(d, reference.EXTRACTORS.get("toy")(), tmp_path / "ref.npz")
    stats, _ = reference.load(tmp_path / "ref.npz")

    class Other:
        id, dim, weights_sha256, preprocessing = "other-extractor", 128, "x", "none"

    with pytest.raises(ValueError, match="made with extractor 'toy-classifier.*remake them"):
        FID(Other(), stats)


def test_bad_sources_name_the_problem(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images"):
        reference.make(empty, reference.EXTRACTORS.get("toy")(), tmp_path / "x.npz")
    (empty / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot decode image .*broken.png"):
        reference.make(empty, reference.EXTRACTORS.get("toy")(), tmp_path / "x.npz")


def test_patch_features_crop_the_centre_without_resizing():
    from ddmd_bench.metrics.inception import PatchFIDFeatures
    from tests.factories import TinyExtractor

    extractor = PatchFIDFeatures(network=TinyExtractor())
    images = torch.randint(0, 256, (2, 3, 320, 310), dtype=torch.uint8)
    crop = extractor.resize(images)
    assert crop.shape == (2, 3, 299, 299) and torch.equal(crop, images[:, :, 10:309, 5:304].float())
    assert extractor.id.endswith("|patch299")
    with pytest.raises(ValueError, match="at least 299x299"):
        extractor.resize(torch.zeros(1, 3, 256, 256, dtype=torch.uint8))
