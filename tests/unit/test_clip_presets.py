"""CLIP-score presets: real open_clip loading through the resolver, and each formula on known embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddmd_bench.metrics import clip_presets
from ddmd_bench.metrics.transforms import centre_crop_resize_batch


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A randomly initialised open_clip model (the toy config), saved as safetensors like a hub checkpoint."""
    from safetensors.torch import save_file

    from ddmd_bench.tracks.toy.clip import build_clip

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
    from ddmd_bench.tracks.toy.clip import register

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


class _HFClip(torch.nn.Module):
    """A transformers CLIPModel seen through both interfaces: open_clip's encode_image / encode_text (what
    CLIPScore calls) and the tensor-returning get_*_features that torchmetrics' clip_score expects of a model."""

    def __init__(self, model, processor) -> None:
        super().__init__()
        self.model, self.processor, self.config = model.eval(), processor, model.config

    def get_image_features(self, pixel_values):
        return self.model.get_image_features(pixel_values=pixel_values).pooler_output

    def get_text_features(self, input_ids, attention_mask=None):
        return self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output

    def encode_image(self, pixels):
        return self.get_image_features(pixels)

    def encode_text(self, batch):
        return self.get_text_features(batch["input_ids"], batch["attention_mask"])

    def preprocess(self, image):
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def tokenize(self, texts):
        return self.processor(text=texts, return_tensors="pt", padding=True)


@pytest.fixture(scope="module")
def hf_clip(tmp_path_factory):
    """A tiny random transformers CLIP model and processor, built offline (character-level tokenizer)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from tests.factories import clip_tokenizer as write_clip_tokenizer

    tokenizer = write_clip_tokenizer(tmp_path_factory.mktemp("tok"))
    tokenizer.model_max_length = 77  # character-level tokens: the prompts need more than the default 32
    config = CLIPConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 77,
                     "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=16)
    torch.manual_seed(3)
    processor = CLIPProcessor(CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                              tokenizer)
    return _HFClip(CLIPModel(config), processor)


def _torchmetrics_scores(hf_clip, images, prompts, scale=1.0):
    """torchmetrics' clip_score per pair (100 max(cos, 0)) and over the batch (100 max(mean cos, 0))."""
    from torchmetrics.functional.multimodal import clip_score

    def load():
        return hf_clip, hf_clip.processor

    with torch.no_grad():
        each = [float(clip_score(images[i], prompts[i], load)) / 100 * scale for i in range(len(prompts))]
        return np.array(each), float(clip_score(list(images), prompts, load)) / 100 * scale


def _metric(preset, hf_clip):
    return clip_presets.preset_metric(clip_presets.PRESETS.get(preset), hf_clip, hf_clip.preprocess,
                                      hf_clip.tokenize, model_id="transformers:tiny-random-clip",
                                      weights_sha256="0" * 64, described="CLIPProcessor")


def test_torchmetrics_preset_equals_torchmetrics_clip_score(hf_clip):
    images = _images(6, size=40)
    prompts = PROMPTS + ["a small red square at the center", "a large blue circle at the bottom left"]
    metric = _metric("torchmetrics", hf_clip)
    metric.update(images[:4], prompts[:4])
    metric.update(images[4:], prompts[4:])
    value = metric.compute()
    each, batch = _torchmetrics_scores(hf_clip, images, prompts, scale=100.0)
    # torchmetrics clamps each pair at 0; our per-sample scores keep the sign, and only the mean is clamped.
    assert (each > 0).sum() >= 2 and batch > 0, "a seed whose scores are all clamped would compare nothing"
    np.testing.assert_allclose(np.maximum(value.per_sample, 0.0), each, rtol=1e-5, atol=1e-4)
    assert value.value == pytest.approx(batch, rel=1e-5, abs=1e-4)
    assert metric.spec()["scale"] == 100.0 and metric.spec()["clamp_mean_at_zero"] is True


def test_torchmetrics_preset_clamps_a_negative_mean_at_zero_like_torchmetrics(hf_clip):
    images, prompts = _images(6, size=40), PROMPTS + ["a red circle", "a blue square"]
    each, _ = _torchmetrics_scores(hf_clip, images, prompts, scale=100.0)
    negative = [i for i in range(6) if each[i] == 0.0]
    assert negative, "needs a pair whose cosine is negative"
    metric = _metric("torchmetrics", hf_clip)
    metric.update(images[negative], [prompts[i] for i in negative])
    value = metric.compute()
    _, batch = _torchmetrics_scores(hf_clip, images[negative], [prompts[i] for i in negative], scale=100.0)
    assert value.value == batch == 0.0 and max(value.per_sample) < 0 and value.ci_high < 0


def test_dmd2_preset_equals_torchmetrics_on_prefixed_prompts_and_resized_images(hf_clip):
    # dmd2: raw cosine of "A photo depicts " + prompt, after a centre crop and LANCZOS resize to 256.
    images = _images(4, size=40)[:, :, :, :30]  # not square, so the crop matters
    metric = _metric("dmd2", hf_clip)
    metric.update(images, PROMPTS)
    value = metric.compute()
    resized = centre_crop_resize_batch(images, 256)
    each, _ = _torchmetrics_scores(hf_clip, resized, ["A photo depicts " + p for p in PROMPTS])
    assert (each > 0).sum() >= 2
    np.testing.assert_allclose(np.maximum(value.per_sample, 0.0), each, rtol=1e-5, atol=1e-6)
    assert metric.spec()["preprocessing"].startswith("centre crop + LANCZOS 256")


def test_unknown_preset_gets_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'mlperf'"):
        clip_presets.build_clip_score("mlpref")
