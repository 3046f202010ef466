"""ImageReward on transformers BLIP modules: strict key map, batching, preprocessing, bad input.

Parity with the official package is checked by scripts/image_reward_parity.sh (isolated environment)."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from ddmd_bench.metrics.image_reward import (
    CheckpointMismatch,
    ImageReward,
    ImageRewardConfig,
    ImageRewardModel,
    convert_official_state_dict,
    load_official,
    preprocess,
)

TINY = ImageRewardConfig(image_size=32, patch_size=8, vision_width=32, vision_layers=2, vision_heads=2,
                         text={"vocab_size": 40, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                               "intermediate_size": 64, "max_position_embeddings": 16, "layer_norm_eps": 1e-12,
                               "hidden_act": "gelu", "pad_token_id": 0},
                         head=(16, 8, 4, 2), max_length=8)

# Inverse of the key map: how the official BLIP checkpoint names each tensor (BLIP's vit.py / med.py / ImageReward).
_TO_OFFICIAL = (
    (r"vision\.embeddings\.class_embedding", "blip.visual_encoder.cls_token"),
    (r"vision\.embeddings\.position_embedding", "blip.visual_encoder.pos_embed"),
    (r"vision\.embeddings\.patch_embedding\.(\w+)", r"blip.visual_encoder.patch_embed.proj.\1"),
    (r"vision\.encoder\.layers\.(\d+)\.layer_norm1\.(\w+)", r"blip.visual_encoder.blocks.\1.norm1.\2"),
    (r"vision\.encoder\.layers\.(\d+)\.layer_norm2\.(\w+)", r"blip.visual_encoder.blocks.\1.norm2.\2"),
    (r"vision\.encoder\.layers\.(\d+)\.self_attn\.qkv\.(\w+)", r"blip.visual_encoder.blocks.\1.attn.qkv.\2"),
    (r"vision\.encoder\.layers\.(\d+)\.self_attn\.projection\.(\w+)", r"blip.visual_encoder.blocks.\1.attn.proj.\2"),
    (r"vision\.encoder\.layers\.(\d+)\.mlp\.(fc\d)\.(\w+)", r"blip.visual_encoder.blocks.\1.mlp.\2.\3"),
    (r"vision\.post_layernorm\.(\w+)", r"blip.visual_encoder.norm.\1"),
    (r"text\.(.+)", r"blip.text_encoder.\1"),
    (r"head\.(\d+)\.(\w+)", r"mlp.layers.\1.\2"),
    (r"(vision_proj|text_proj)\.(\w+)", r"blip.\1.\2"),
)


def _official_state(model: ImageRewardModel) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in model.state_dict().items():
        for pattern, repl in _TO_OFFICIAL:
            if re.fullmatch(pattern, key):
                out[re.sub(pattern, repl, key)] = value.clone()
                break
        else:
            raise AssertionError(f"no official name for {key}")
    out["blip.text_encoder.embeddings.position_ids"] = torch.arange(16).view(1, -1)
    return out


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    model = ImageRewardModel(TINY).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _inputs(n=4, size=32):
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    ids = torch.randint(1, 40, (n, 8), generator=g)
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0
    return images, ids, mask


def test_official_checkpoint_loads_strictly_and_reproduces_outputs(source):
    state = _official_state(source)
    loaded = load_official(ImageRewardModel(TINY), state)
    images, ids, mask = _inputs()
    pixels = preprocess(images, 32)
    torch.testing.assert_close(loaded(pixels, ids, mask), source(pixels, ids, mask), rtol=0, atol=0)


def test_missing_unexpected_and_misshapen_tensors_are_errors(source):
    state = _official_state(source)
    del state["mlp.layers.0.weight"]
    with pytest.raises(CheckpointMismatch, match="missing.*head.0.weight"):
        load_official(ImageRewardModel(TINY), state)
    state = _official_state(source)
    state["blip.itm_head.weight"] = torch.zeros(2, 2)
    with pytest.raises(CheckpointMismatch, match="blip.itm_head.weight"):
        convert_official_state_dict(state)
    state = _official_state(source)
    state["blip.visual_encoder.pos_embed"] = torch.zeros(1, 5, 32)
    with pytest.raises(CheckpointMismatch, match="shape mismatch.*position_embedding"):
        load_official(ImageRewardModel(TINY), state)


def test_scores_do_not_depend_on_batching(source):
    from ddmd_bench.toy.text import build_tokenizer

    tokenizer = build_tokenizer()
    config = dataclasses.replace(TINY, text={**TINY.text, "vocab_size": len(tokenizer)})
    torch.manual_seed(0)
    metric = ImageReward(ImageRewardModel(config), tokenizer, "test")
    images, _, _ = _inputs(6)
    prompts = ["a small red circle at the top left", "", "a large blue square at the center"] * 2
    together = metric.score(images, prompts)
    alone = torch.cat([metric.score(images[i:i + 1], prompts[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    metric.update(images, prompts)
    value = metric.compute()
    assert value.n == 6 and value.ci_low <= value.value <= value.ci_high and len(value.per_sample) == 6


def test_preprocess_native_size_shortcut_equals_the_pil_path():
    images, _, _ = _inputs(3, 32)
    torch.testing.assert_close(preprocess(images, 32), preprocess(images, 32, force_pil=True), rtol=0, atol=1e-6)
    big = preprocess(torch.randint(0, 256, (1, 3, 300, 200), dtype=torch.uint8), 32)
    assert big.shape == (1, 3, 32, 32)


def test_bad_images_get_specific_errors(source):
    metric = ImageReward(source, lambda *a, **k: None, "x")
    with pytest.raises(TypeError, match="uint8"):
        metric.score(torch.zeros(1, 3, 32, 32), ["p"])
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        metric.score(torch.zeros(1, 32, 32, dtype=torch.uint8), ["p"])
    with pytest.raises(ValueError, match="1 images but 2 prompts"):
        metric.score(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), ["p", "q"])


def test_missing_official_weights_name_the_file(tmp_path, monkeypatch):
    from ddmd_bench.metrics.image_reward import build_image_reward

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(Exception, match="ImageReward.pt") as info:
        build_image_reward()
    assert "THUDM/ImageReward" in str(info.value)
