"""ImageReward (Xu et al. 2023) on current transformers: BLIP ViT image tower + BERT text encoder with
cross-attention, built from transformers' `BlipVisionModel` and `BlipTextModel`, loading the official
`ImageReward.pt` through an explicit key map, strictly (every checkpoint tensor used, none missing).

Score = (MLP(text [CLS] after cross-attending to the image tokens) - 0.16717362830052426) / 1.0333394966054072;
images bicubic-resized to 224 and centre-cropped, CLIP mean/std; prompts tokenised by bert-base-uncased plus
BLIP's [DEC]/[ENC] tokens, padded and truncated to 35 tokens (docs/protocols.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.base import MetricValue, PerSampleScores, check_image_prompt_pairs

REWARD_MEAN = 0.16717362830052426  # official normalisation constants (ImageReward's ImageReward.py)
REWARD_STD = 1.0333394966054072
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True, slots=True)
class ImageRewardConfig:
    """Architecture of an ImageReward model; the defaults are the official one (BLIP ViT-L/16 at 224, BERT-base)."""

    image_size: int = 224
    patch_size: int = 16
    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    text: dict[str, Any] = field(default_factory=lambda: {  # med_config.json fields that shape the model
        "vocab_size": 30524, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "max_position_embeddings": 512, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        "pad_token_id": 0})
    head: tuple[int, ...] = (1024, 128, 64, 16)
    head_dropout: tuple[float, ...] = (0.2, 0.2, 0.1)
    max_length: int = 35
    embed_dim: int = 256  # BLIP's contrastive projections (in the checkpoint, unused by the score)
    mean: float = REWARD_MEAN
    std: float = REWARD_STD

    @classmethod
    def from_med_config(cls, med: dict[str, Any], **kwargs: Any) -> ImageRewardConfig:
        """Official architecture with the text tower read from `med_config.json`."""
        keys = cls().text.keys()
        return cls(text={k: med[k] for k in keys if k in med}, **kwargs)


class ImageRewardModel(nn.Module):
    """The reward network. `forward(pixels, input_ids, attention_mask) -> normalised reward [B]`."""

    def __init__(self, config: ImageRewardConfig) -> None:
        super().__init__()
        # transformers: a heavy backend, imported only when a reward model is built
        from transformers import BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel

        self.config = config
        self.vision = BlipVisionModel(BlipVisionConfig(
            hidden_size=config.vision_width, intermediate_size=4 * config.vision_width,
            num_hidden_layers=config.vision_layers, num_attention_heads=config.vision_heads,
            image_size=config.image_size, patch_size=config.patch_size, layer_norm_eps=1e-6, hidden_act="gelu",
            initializer_range=0.02))  # transformers defaults BLIP vision init to 1e-10: untrainable from scratch
        # is_decoder=True only makes transformers build the cross-attention layers; forward runs bidirectionally.
        text_cfg = BlipTextConfig(**config.text, encoder_hidden_size=config.vision_width, is_decoder=True)
        self.text = BlipTextModel(text_cfg, add_pooling_layer=False)
        layers: list[nn.Module] = []
        widths = (config.text["hidden_size"], *config.head)
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(config.head_dropout):
                layers.append(nn.Dropout(config.head_dropout[i]))
        layers.append(nn.Linear(widths[-1], 1))
        self.head = nn.Sequential(*layers)
        # BLIP's image-text contrastive projections: part of the official checkpoint, not of the reward. Kept so
        # that loading stays strict (every checkpoint tensor has a place).
        self.vision_proj = nn.Linear(config.vision_width, config.embed_dim)
        self.text_proj = nn.Linear(config.text["hidden_size"], config.embed_dim)

    def forward(self, pixels: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Normalised rewards for a batch of (image, prompt) pairs."""
        image_embeds = self.vision(pixel_values=pixels).last_hidden_state
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=pixels.device)
        text = self.text(input_ids=input_ids, attention_mask=attention_mask, encoder_hidden_states=image_embeds,
                         encoder_attention_mask=image_mask, is_decoder=False).last_hidden_state
        reward = self.head(text[:, 0, :].float()).squeeze(-1)
        return (reward - self.config.mean) / self.config.std


# ---------------------------------------------------------------------------------------------- key map
_VISION_RULES = (  # official BLIP ViT (timm-style) name -> transformers BlipVisionModel name
    (r"blip\.visual_encoder\.cls_token", "vision.embeddings.class_embedding"),
    (r"blip\.visual_encoder\.pos_embed", "vision.embeddings.position_embedding"),
    (r"blip\.visual_encoder\.patch_embed\.proj\.(weight|bias)", r"vision.embeddings.patch_embedding.\1"),
    (r"blip\.visual_encoder\.blocks\.(\d+)\.norm1\.(weight|bias)", r"vision.encoder.layers.\1.layer_norm1.\2"),
    (r"blip\.visual_encoder\.blocks\.(\d+)\.norm2\.(weight|bias)", r"vision.encoder.layers.\1.layer_norm2.\2"),
    (r"blip\.visual_encoder\.blocks\.(\d+)\.attn\.qkv\.(weight|bias)", r"vision.encoder.layers.\1.self_attn.qkv.\2"),
    (r"blip\.visual_encoder\.blocks\.(\d+)\.attn\.proj\.(weight|bias)",
     r"vision.encoder.layers.\1.self_attn.projection.\2"),
    (r"blip\.visual_encoder\.blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)", r"vision.encoder.layers.\1.mlp.\2.\3"),
    (r"blip\.visual_encoder\.norm\.(weight|bias)", r"vision.post_layernorm.\1"),
)
_TEXT_RULES = (  # BLIP's med.py BERT uses the same module names as transformers' BlipTextModel
    (r"blip\.text_encoder\.(embeddings\.(word_embeddings|position_embeddings|LayerNorm)\..+)", r"text.\1"),
    (r"blip\.text_encoder\.(encoder\.layer\.\d+\.(attention|crossattention|intermediate|output)\..+)", r"text.\1"),
    (r"mlp\.layers\.(\d+)\.(weight|bias)", r"head.\1.\2"),
    (r"blip\.(vision_proj|text_proj)\.(weight|bias)", r"\1.\2"),
)
_IGNORED = (r"blip\.text_encoder\.embeddings\.position_ids",)  # a non-trainable arange buffer, checked below


class CheckpointMismatch(ValueError):
    """An ImageReward checkpoint does not map one-to-one onto the model."""


def convert_official_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official ImageReward.pt state dict to this module's names; unknown keys are an error."""
    out, unknown = {}, []
    for key, value in state.items():
        if any(re.fullmatch(p, key) for p in _IGNORED):
            if not torch.equal(value.flatten(), torch.arange(value.numel(), dtype=value.dtype)):
                raise CheckpointMismatch(f"{key} is not the arange buffer it should be")
            continue
        for pattern, repl in _VISION_RULES + _TEXT_RULES:
            if re.fullmatch(pattern, key):
                out[re.sub(pattern, repl, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointMismatch(f"{len(unknown)} checkpoint tensors have no place in the model: {unknown[:5]}")
    return out


def load_official(model: ImageRewardModel, state: dict[str, torch.Tensor]) -> ImageRewardModel:
    """Load an official state dict strictly: every tensor used, every model tensor provided, shapes equal."""
    mapped = convert_official_state_dict(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(mapped))
    unexpected = sorted(set(mapped) - set(own))
    bad_shape = [k for k in set(own) & set(mapped) if own[k].shape != mapped[k].shape]
    if missing or unexpected or bad_shape:
        raise CheckpointMismatch(f"ImageReward checkpoint does not fit the model: missing {missing[:5]}, "
                                 f"unexpected {unexpected[:5]}, shape mismatch {bad_shape[:5]}")
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def preprocess(images: torch.Tensor, size: int, force_pil: bool = False) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> normalised [B, 3, size, size]: PIL bicubic resize of the short side, centre crop,
    CLIP mean/std: the official transform, applied to the same PIL images it would see. Images already at
    `size` x `size` skip PIL (resize and crop are then the identity; tested)."""
    if images.shape[-2:] == (size, size) and not force_pil:
        mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        return (images.float() / 255.0 - mean) / std

    from torchvision import transforms  # only for images that need resizing (the toy track's never do)

    tf = transforms.Compose([transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
                             transforms.CenterCrop(size), transforms.ToTensor(),
                             transforms.Normalize(CLIP_MEAN, CLIP_STD)])
    return torch.stack([tf(Image.fromarray(im.permute(1, 2, 0).numpy()).convert("RGB")) for im in images])


def blip_tokenizer(vocab_file: str):
    """bert-base-uncased's tokenizer with BLIP's added [DEC] (bos) and [ENC] tokens: 30524 ids."""
    from transformers import BertTokenizer  # a heavy backend, imported only when a reward metric is built

    tok = BertTokenizer(vocab_file, do_lower_case=True)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tok


class ImageReward(PerSampleScores):
    """The ImageReward metric: per-sample rewards, mean with a bootstrap 95% CI; batched scoring."""

    kind = catalog.IMAGE_REWARD
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def __init__(self, model: ImageRewardModel, tokenizer, weights_sha256: str, scale: float = 1.0,
                 model_id: str = "THUDM/ImageReward") -> None:
        self.model, self.tokenizer = model.eval(), tokenizer
        self.weights_sha256, self.scale, self.model_id = weights_sha256, scale, model_id
        self.reset()

    @torch.no_grad()
    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """Rewards [B] for uint8 images and their prompts."""
        images = check_image_prompt_pairs(images, prompts)
        tokens = self.tokenizer(prompts, padding="max_length", truncation=True,
                                max_length=self.model.config.max_length, return_tensors="pt")
        pixels = preprocess(images, self.model.config.image_size)
        return self.model(pixels, tokens["input_ids"], tokens["attention_mask"])

    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Score a batch."""
        rewards = self.score(images, prompts)
        if not torch.isfinite(rewards).all():
            raise FloatingPointError("ImageReward produced non-finite rewards")
        self._record_batch(self.scale * rewards)

    def compute(self) -> MetricValue:
        """Mean reward with a percentile-bootstrap CI over samples."""
        scores = self._gathered()
        ci = metric_fn.bootstrap_mean(np.asarray(scores))
        return MetricValue(value=ci.value, n=len(scores), ci_low=ci.low, ci_high=ci.high, per_sample=tuple(scores))

    def spec(self) -> dict[str, Any]:
        """Model, weights, normalisation and preprocessing."""
        return self.kind.spec(
            model_id=self.model_id, weights_sha256=self.weights_sha256, scale=self.scale,
            normalisation=[self.model.config.mean, self.model.config.std],
            preprocessing=f"PIL bicubic resize {self.model.config.image_size}, centre crop, CLIP mean/std",
            max_length=self.model.config.max_length, config=asdict(self.model.config))


def build_image_reward(allow_download: bool = True, scale: float = 1.0) -> ImageReward:
    """The official ImageReward metric: weights, med_config and tokenizer through the one resolver (hub, local
    caches, HF_HUB_OFFLINE), loaded strictly. `scale` multiplies every reward (a paper may print them x 100)."""
    ckpt = resolver.resolve(resolver.WEIGHTS.get("imagereward"), allow_download=allow_download)
    med = resolver.resolve(resolver.WEIGHTS.get("imagereward-med-config"), allow_download=allow_download)
    vocab = resolver.resolve(resolver.WEIGHTS.get("bert-base-uncased-vocab"), allow_download=allow_download)
    model = ImageRewardModel(ImageRewardConfig.from_med_config(json.loads(Path(med).read_text())))
    load_official(model, torch.load(ckpt, map_location="cpu", weights_only=True))
    return ImageReward(model, blip_tokenizer(str(vocab)), resolver.sha256_file(ckpt), scale=scale)
