"""ImageReward on transformers BLIP modules: strict key map (against the official tensor list), batching,
preprocessing, bad input.

Score parity with the official package is checked by scripts/image_reward_parity.sh (isolated environment)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

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

# Every tensor of the official ImageReward model (image-reward 1.5), by name and shape, dumped from the official
# package by scripts/image_reward_parity.sh: the key map is checked against these names, not against our own guess.
OFFICIAL = json.loads((Path(__file__).parents[1] / "fixtures" / "image_reward_official_state_dict.json").read_text())


def _layer_count(names, pattern):
    return 1 + max(int(m[1]) for n in names if (m := re.match(pattern, n)))


def test_every_official_tensor_maps_onto_the_full_size_model_with_its_shape():
    names = {name: tuple(shape) for name, shape in OFFICIAL["state_dict"]}
    assert _layer_count(names, r"blip\.visual_encoder\.blocks\.(\d+)\.") == 24
    state = {n: torch.empty(s, device="meta") for n, s in names.items()}
    positions = "blip.text_encoder.embeddings.position_ids"  # an arange buffer the converter checks by value
    state[positions] = torch.arange(names[positions][-1]).view(1, -1)
    mapped = convert_official_state_dict(state)
    with torch.device("meta"):
        own = ImageRewardModel(ImageRewardConfig.from_med_config(OFFICIAL["med_config"])).state_dict()
    assert sorted(mapped) == sorted(own)
    assert [k for k in own if tuple(mapped[k].shape) != tuple(own[k].shape)] == []


def _official_state(model: ImageRewardModel) -> dict[str, torch.Tensor]:
    """A checkpoint for the tiny model under the official names: the fixture's names for the tiny model's layer
    counts, each filled with the tensor the key map sends it to."""
    own = model.state_dict()
    vision, text = model.config.vision_layers, model.config.text["num_hidden_layers"]
    out = {}
    for name, _ in OFFICIAL["state_dict"]:
        block = re.match(r"blip\.(?:visual_encoder\.blocks|text_encoder\.encoder\.layer)\.(\d+)\.", name)
        if block and int(block[1]) >= (vision if "visual" in name else text):
            continue
        if name == "blip.text_encoder.embeddings.position_ids":
            out[name] = torch.arange(model.config.text["max_position_embeddings"]).view(1, -1)
            continue
        target = next(iter(convert_official_state_dict({name: torch.zeros(0)})))
        out[name] = own[target].clone()
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
    from ddmd_bench.tracks.toy.text import build_tokenizer

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
