"""The toy reward model: ImageReward's architecture (transformers BLIP vision + text towers, cross-attention,
MLP head) at toy size, trained on synthetic preferences from the world's ground truth, so the default `evaluate`
runs the same ImageReward code path as the real metric.

Preferences (Bradley-Terry, as ImageReward was trained): for a canonical prompt, a real image that matches it is
preferred over (a) a real image with one attribute changed or (b) the matching image with an artefact (noise, blur,
washed-out colour, a random pixel block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ddmd_bench.metrics.image_reward import ImageRewardConfig, ImageRewardModel, preprocess
from ddmd_bench.tracks.toy import text, world
from ddmd_bench.tracks.toy.fitting import fit


def toy_config(vocab_size: int, pad_token_id: int) -> ImageRewardConfig:
    """ImageReward's architecture at 16 px: 4 px patches, 64-wide two-layer towers."""
    return ImageRewardConfig(
        image_size=world.RESOLUTION, patch_size=4, vision_width=64, vision_layers=2, vision_heads=4,
        text={"vocab_size": vocab_size, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "intermediate_size": 128, "max_position_embeddings": text.MAX_TOKENS, "layer_norm_eps": 1e-12,
              "hidden_act": "gelu", "pad_token_id": pad_token_id, "bos_token_id": None, "sep_token_id": None,
              "eos_token_id": None},
        head=(64, 16, 8, 4), head_dropout=(0.1, 0.1, 0.0), max_length=text.MAX_TOKENS, embed_dim=16, mean=0.0,
        std=1.0)


def build_reward(seed: int = 0) -> tuple[ImageRewardModel, object]:
    """(randomly initialised toy reward model, toy tokenizer)."""
    tokenizer = text.build_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ImageRewardModel(toy_config(len(tokenizer), tokenizer.pad_token_id))
    return model, tokenizer


@dataclass(frozen=True, slots=True)
class RewardTrainConfig:
    """Synthetic-preference training of the toy reward model."""

    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 3


_ARTEFACTS = ("noise", "blur", "washed", "block")


def _artefact(images: torch.Tensor, kind: str, rng: np.random.Generator) -> torch.Tensor:
    x = images.float()
    if kind == "noise":
        x = x + torch.from_numpy(rng.normal(0, 40, x.shape)).float()
    elif kind == "blur":
        x = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(x, 4), scale_factor=4, mode="bilinear")
    elif kind == "washed":
        x = 0.35 * x + 0.65 * x.mean(dim=(1, 2, 3), keepdim=True)
    else:
        i, j = rng.integers(0, 9, size=2)
        x[:, :, i:i + 7, j:j + 7] = torch.from_numpy(rng.integers(0, 256, (x.shape[0], 3, 7, 7))).float()
    return x.round().clamp(0, 255).to(torch.uint8)


def preference_batch(step: int, n: int, seed: int, held_out: bool = False):
    """(prompts, preferred images, rejected images) for one step; a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step, 0x2E3A])
    combos = world.all_combinations(held_out=held_out)
    attrs = [combos[i] for i in rng.integers(len(combos), size=n)]
    seeds = [int(s) for s in rng.integers(2**31, size=n)]
    good = world.render_for(attrs, seeds).images
    bad_attrs = []
    for a in attrs:
        name = world.ATTRIBUTES[rng.integers(len(world.ATTRIBUTES))]
        others = [v for v in world.ATTRIBUTE_VALUES[name] if v != a[name]]
        bad_attrs.append({**a, name: others[rng.integers(len(others))]})
    mismatched = world.render_for(bad_attrs, seeds).images
    kind = _ARTEFACTS[rng.integers(len(_ARTEFACTS))]
    artefact = _artefact(good, kind, rng)
    use_artefact = torch.from_numpy(rng.random(n) < 0.4).view(-1, 1, 1, 1)
    bad = torch.where(use_artefact, artefact, mismatched)
    return [world.canonical_prompt(a) for a in attrs], good, bad


def _scores(model, tokenizer, images, prompts) -> torch.Tensor:
    tokens = tokenizer(prompts, padding="max_length", truncation=True, max_length=model.config.max_length,
                       return_tensors="pt")
    return model(preprocess(images, model.config.image_size), tokens["input_ids"], tokens["attention_mask"])


def train_reward(cfg: RewardTrainConfig) -> ImageRewardModel:
    """Bradley-Terry training on fresh preference pairs every step."""
    model, tokenizer = build_reward(cfg.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)

    def loss_at(step: int) -> torch.Tensor:
        prompts, good, bad = preference_batch(step, cfg.batch_size, cfg.seed)
        good_bad = _scores(model, tokenizer, torch.cat([good, bad]), prompts + prompts)
        margin = good_bad[: len(prompts)] - good_bad[len(prompts):]
        return torch.nn.functional.softplus(-margin).mean()  # -log sigmoid(r_good - r_bad)

    return fit(model, opt, cfg.steps, loss_at, "reward")


@torch.no_grad()
def pairwise_accuracy(model: ImageRewardModel, n: int = 1024, held_out: bool = False) -> float:
    """Fraction of fresh preference pairs ranked correctly."""
    tokenizer = text.build_tokenizer()
    prompts, good, bad = preference_batch(10**6, n, seed=987, held_out=held_out)
    return float((_scores(model, tokenizer, good, prompts) > _scores(model, tokenizer, bad, prompts)).float().mean())

