"""CMMD: the estimator against an independent float64 transcription of the published definition (with negative
controls the comparison must catch), the metric object on the toy CLIP, and a tiny random open_clip backbone loaded
through the same code as the real ViT-L/14@336."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import kernel_functional as kernel_fn
from ddmd_bench.metrics.cmmd import CMMD, ClipEmbedder, cmmd_preprocessing, crop_resize_normalise, load_clip_embedder
from ddmd_bench.metrics.feature_sets import features_reference, reference_features
from tests.factories import random_images


def _reference_cmmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0, unbiased: bool = False) -> float:
    """The published estimator written out pair by pair in float64: normalise, k = exp(-|a-b|^2 / (2 sigma^2)),
    mean over all pairs (diagonals included) of xx and yy, minus twice the mean of xy, times 1000. `unbiased`
    drops the diagonals (the other common estimator), as a negative control."""
    x = np.asarray(x, np.float64) / np.linalg.norm(x, axis=1, keepdims=True)
    y = np.asarray(y, np.float64) / np.linalg.norm(y, axis=1, keepdims=True)

    def mean_k(a, b, skip_diagonal):
        total, count = 0.0, 0
        for i in range(len(a)):
            for j in range(len(b)):
                if skip_diagonal and i == j:
                    continue
                total += np.exp(-np.sum((a[i] - b[j]) ** 2) / (2 * sigma ** 2))
                count += 1
        return total / count

    return 1000 * (mean_k(x, x, unbiased) + mean_k(y, y, unbiased) - 2 * mean_k(x, y, False))


def _sets(seed: int = 0, n: int = 40, m: int = 33, d: int = 24):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 0.5
    return x, rng.normal(size=(m, d)) * 1.3 + rng.normal(size=d)  # another distribution, another set size


def test_cmmd_matches_the_float64_transcription_of_the_published_estimator():
    x, y = _sets()
    want = _reference_cmmd(x, y)
    assert kernel_fn.cmmd(x, y) == pytest.approx(want, rel=1e-10, abs=1e-12)
    assert kernel_fn.cmmd(x.astype(np.float32), y) == pytest.approx(want, rel=1e-5)  # float32 embeddings, float64 math
    assert want > 0.1  # the sets differ: the comparison below is not between zeros


def test_cmmd_negative_controls_differ_beyond_the_tolerance():
    x, y = _sets(1)
    got = kernel_fn.cmmd(x, y)
    for wrong in (_reference_cmmd(x, y, sigma=1.0), _reference_cmmd(x, y, unbiased=True),
                  1000 * kernel_fn.gaussian_mmd2_biased(x, y, 10.0)):  # without the L2 normalisation
        assert abs(got - wrong) > 1e-3 * abs(got), (got, wrong)


def test_cmmd_is_zero_on_identical_sets_symmetric_and_scale_free():
    x, y = _sets(2)
    assert abs(kernel_fn.cmmd(x, x)) < 1e-9
    assert kernel_fn.cmmd(x, y) == pytest.approx(kernel_fn.cmmd(y, x), rel=1e-12)
    assert kernel_fn.cmmd(3 * x, y) == pytest.approx(kernel_fn.cmmd(x, y), rel=1e-12)  # embeddings are normalised
    with pytest.raises(ValueError, match="all zeros"):
        kernel_fn.cmmd(np.zeros((3, 24)), y)
    with pytest.raises(ValueError, match="one width"):
        kernel_fn.cmmd(x, y[:, :5])


@pytest.fixture(scope="module")
def toy_embedder() -> ClipEmbedder:
    from ddmd_bench.tracks.toy.loaders import load_clip

    model, preprocess, _, meta = load_clip()
    return ClipEmbedder(model, preprocess, "open_clip:ddmd-toy-clip", meta["sha256"],
                        "open_clip transform of the toy CLIP (PIL from uint8)", dim=int(model.visual.output_dim))


def _renders(n: int, seed: int) -> torch.Tensor:
    from ddmd_bench.tracks.toy import world

    rng = np.random.default_rng(seed)
    attrs = world.all_combinations(held_out=False)
    picked = [attrs[i] for i in rng.integers(0, len(attrs), n)]
    return world.render_for(picked, [seed * 1000 + i for i in range(n)]).images


def test_toy_cmmd_is_the_estimator_on_the_toy_clip_embeddings_and_ranks_renders_above_noise(toy_embedder):
    reference = reference_features(toy_embedder, [_renders(48, 1)], "toy renders")
    metric = CMMD(toy_embedder, reference)
    real = _renders(24, 2)
    for chunk in torch.tensor_split(real, 5):
        metric.update(chunk, [""] * len(chunk))
    value = metric.compute()
    assert value.n == 24 and value.ci_low is None and value.per_sample is None
    assert value.value == pytest.approx(_reference_cmmd(toy_embedder(real).numpy(), reference.features), rel=1e-5)
    metric.reset()
    metric.update(random_images(24, real.shape[-1], seed=3), [""] * 24)
    assert metric.compute().value > 2 * value.value  # the direction (lower is better) holds on a trained backbone
    spec = metric.spec()
    assert spec["implementation"] == catalog.CMMD.implementation and spec["sigma"] == 10.0
    assert spec["scale"] == 1000.0 and spec["estimator"] == catalog.CMMD_ESTIMATOR
    assert spec["reference"] == {"id": "toy renders", "n": 48, "sha256": reference.sha256}


def test_a_reference_from_another_embedder_or_width_is_refused(toy_embedder):
    with pytest.raises(ValueError, match="remake them"):
        CMMD(toy_embedder, features_reference(torch.randn(5, toy_embedder.dim), "another-clip", "x"))
    with pytest.raises(ValueError, match="-d"):
        CMMD(toy_embedder, features_reference(torch.randn(5, 3), toy_embedder.id, "x"))


def test_the_preprocessing_crops_the_centre_square_and_resizes_bicubic():
    from PIL import Image

    wide = np.zeros((8, 16, 3), np.uint8)
    wide[:, 4:12] = 255  # the centre square is white, the sides black
    out = crop_resize_normalise(Image.fromarray(wide), size=12)
    assert out.shape == (3, 12, 12)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)
    torch.testing.assert_close(out, ((1 - mean) / std).expand(3, 12, 12), rtol=0, atol=1e-5)
    noise = Image.fromarray(random_images(1, 20, seed=8)[0].permute(1, 2, 0).numpy())
    got = crop_resize_normalise(noise, size=12) * std + mean
    for resample, same in ((Image.BICUBIC, True), (Image.LANCZOS, False), (Image.BILINEAR, False)):
        want = torch.from_numpy(np.asarray(noise.resize((12, 12), resample), np.float32) / 255).permute(2, 0, 1)
        assert torch.allclose(got, want, atol=1e-5) is same, resample


def test_a_tiny_random_backbone_loads_through_the_real_loading_code(tmp_path):
    """The same `load_clip_embedder` as ViT-L/14@336 (resolver, open_clip, preprocessing), on a registered tiny
    open_clip config with random weights written as the hub's safetensors file."""
    import open_clip
    from safetensors.torch import save_file

    from ddmd_bench.tracks.toy.clip import MODEL_NAME, build_clip, register

    register()
    model, _, _ = build_clip(seed=5)
    weights = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    spec = resolver.WeightSpec("tiny-clip", weights.name, repo_id="nobody/tiny-clip", used_for="test")
    size = model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
    embedder = load_clip_embedder(MODEL_NAME, spec, weights=weights, size=size)
    assert embedder.weights_sha256 == resolver.sha256_file(weights)
    assert embedder.preprocessing == cmmd_preprocessing(size) and embedder.dim == model.visual.output_dim
    images = random_images(6, 20, seed=4)  # not square-cropped yet: 20 px to `size`
    from PIL import Image

    pixels = torch.stack([crop_resize_normalise(Image.fromarray(im.permute(1, 2, 0).numpy()), size)
                          for im in images])
    with torch.no_grad():
        torch.testing.assert_close(embedder(images), model.encode_image(pixels), rtol=1e-5, atol=1e-6)
    assert open_clip  # the loader's backend is importable offline


def test_the_published_backbone_is_vit_l14_at_336_with_quickgelu_and_missing_weights_say_how_to_get_them(
        tmp_path, monkeypatch):
    import open_clip

    from ddmd_bench.metrics.cmmd import CMMD_MODEL, CMMD_WEIGHTS, clip_vit_l14_336

    config = open_clip.get_model_config(CMMD_MODEL)
    assert config["vision_cfg"]["image_size"] == 336 and config["vision_cfg"]["patch_size"] == 14
    assert config["quick_gelu"] is True and config["embed_dim"] == 768  # OpenAI's activation and embedding width
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty cache: nothing to find, nothing to download
    with pytest.raises(resolver.WeightsNotFound, match=f"hf download {CMMD_WEIGHTS.repo_id}"):
        clip_vit_l14_336()


def test_the_committed_parity_result_passed_with_controls_beyond_its_tolerance():
    import json
    from pathlib import Path

    result = json.loads((Path(__file__).resolve().parents[2] / "docs" / "cmmd-parity.json").read_text())
    assert result["passed"] is True and result["max_relative_difference"] <= result["tolerance_relative"]
    assert len(result["cases"]) >= 4 and all(c["transcription"] > 0 for c in result["cases"])
    assert min(result["negative_controls_min_relative_difference"].values()) > result["tolerance_relative"]
