"""CLIP-score presets: real open_clip loading through the resolver, and each formula on known embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddmd_bench.metrics import clip_presets
from ddmd_bench.metrics import functional as F


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A randomly initialised open_clip model (the toy config), saved as safetensors like a hub checkpoint."""
    from safetensors.torch import save_file

    from ddmd_bench.toy.clip import build_clip

    model, _, _ = build_clip(seed=5)
    path = tmp_path_factory.mktemp("w") / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def _images(n=4, size=24):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


PROMPTS = ["a small red circle at the center", "a large blue square at the top left",
           "a small yellow triangle at the bottom right", "a large green circle at the top right"]


def _reference_cosines(metric, images, prompts):
    pixels = torch.stack([metric.preprocess(Image.fromarray(im.permute(1, 2, 0).numpy())) for im in images])
    with torch.no_grad():
        img = metric.model.encode_image(pixels)
        txt = metric.model.encode_text(metric.tokenizer([metric.config.prefix + p for p in prompts]))
    img, txt = img / img.norm(dim=-1, keepdim=True), txt / txt.norm(dim=-1, keepdim=True)
    return (img * txt).sum(-1).double().numpy()


@pytest.mark.parametrize("preset", ["dmd2", "mlperf", "torchmetrics"])
def test_preset_formulas(preset, tiny_weights):
    from ddmd_bench.toy.clip import register

    register()
    p = clip_presets.with_model(preset, "ddmd-toy-clip", clip_presets.PRESETS.get(preset).weights)
    metric = clip_presets.build_clip_score(p, weights=tiny_weights)
    images = _images()
    metric.update(images, PROMPTS)
    value = metric.compute()
    cos = _reference_cosines(metric, images, PROMPTS)
    expected = {"dmd2": cos.mean(), "mlperf": 100 * cos.mean(), "torchmetrics": max(100 * cos.mean(), 0.0)}[preset]
    assert value.value == pytest.approx(expected, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(value.per_sample, cos * (1.0 if preset == "dmd2" else 100.0), rtol=1e-5, atol=1e-6)
    spec = metric.spec()
    assert spec["weights_sha256"] == __import__("ddmd_bench.resolver").resolver.sha256_file(tiny_weights)
    assert spec["prefix"] == ("A photo depicts " if preset == "dmd2" else "")


def test_dmd2_preprocessing_crops_the_long_edge_then_lanczos():
    resize = clip_presets.centre_crop_resize(8)
    img = Image.fromarray(np.arange(16 * 32 * 3, dtype=np.uint8).reshape(16, 32, 3))
    out = resize(img)
    expected = img.crop((8, 0, 24, 16)).resize((8, 8), Image.LANCZOS)
    assert out.size == (8, 8) and np.array_equal(np.asarray(out), np.asarray(expected))


def test_torchmetrics_clamp_applies_to_the_mean_not_each_sample():
    # torchmetrics: 100 * max(mean(cos), 0); a negative sample still pulls the mean down.
    cos = F.cosine_similarity(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 0.2], [-1.0, 0.9]]))
    assert cos[1] < 0 and max(100 * float(cos.mean()), 0.0) < 100 * float(cos[0])


def test_unknown_preset_gets_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'mlperf'"):
        clip_presets.build_clip_score("mlpref")
