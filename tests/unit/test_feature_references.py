"""Reference feature sets for CMMD, KID and precision/recall: identity, hashing, and the stored .npz file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.metrics.feature_sets import (ReferenceFeatures, features_reference, load_reference,
                                             reference_features, save_reference)
from tests.factories import random_images


class _Mean:
    id, dim, weights_sha256, preprocessing = "channel-means", 3, "1" * 64, "none"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mean((2, 3))


def test_streamed_reference_is_the_extractors_features_in_order_and_its_hash_names_them():
    images = random_images(10, 8, seed=2)
    reference = reference_features(_Mean(), [images[:4], images[4:]], "noise")
    np.testing.assert_array_equal(reference.features, _Mean()(images).double().numpy())
    assert reference.n == 10 and reference.describe() == {"id": "noise", "n": 10, "sha256": reference.sha256}
    moved = ReferenceFeatures(reference.features[::-1].copy(), reference.extractor_id, "noise")
    assert moved.sha256 != reference.sha256  # order is part of the content (seeded subsets depend on it)
    assert features_reference(torch.from_numpy(reference.features), "channel-means", "noise").sha256 == \
        reference.sha256
    with pytest.raises(ValueError, match="non-empty"):
        ReferenceFeatures(np.zeros((0, 3)), "x", "y")


def test_a_saved_reference_loads_back_exactly_and_an_edited_file_is_refused(tmp_path):
    reference = reference_features(_Mean(), [random_images(6, 8, seed=1)], "noise")
    path = save_reference(reference, _Mean(), tmp_path / "ref.npz")
    back = load_reference(path)
    np.testing.assert_array_equal(back.features, reference.features)
    assert (back.extractor_id, back.set_id, back.sha256) == ("channel-means", "noise", reference.sha256)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["features"] = arrays["features"] + 1.0
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(ValueError, match="does not match its recorded sha256"):
        load_reference(tmp_path / "edited.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        load_reference(tmp_path / "junk.npz")
    other = _Mean()
    other.id = "another-extractor"
    with pytest.raises(ValueError, match="was made with"):
        save_reference(reference, other, tmp_path / "x.npz")
