"""HPSv2 and HPSv2.1 (Wu et al. 2023, Human Preference Score v2): the cosine between open_clip ViT-H-14 image and
prompt embeddings, with the model's weights replaced by the authors' preference-tuned checkpoint.

The official `hpsv2` package builds `ViT-H-14` (laion2B-s32B-b79K), loads `HPS_v2.1_compressed.pt` (or
`HPS_v2_compressed.pt` for v2.0) from the hub repository xswu/HPSv2 over every tensor, tokenises with open_clip's
`ViT-H-14` tokenizer and scores the diagonal of `image_features @ text_features.T` (both L2-normalised). Its
`score()` defaults to v2.0 while its `evaluate()` uses v2.1, so the version is part of the metric's name
(`hpsv21`, `hpsv2`) and spec. Papers print the score x 100; `scale` says which. Images go through hpsv2's own
evaluation transform (`resize_longest_pad`: longest side to 224 and zero padding, not open_clip's short-side resize
and centre crop).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.clip_score import CLIPScore, ClipScoreConfig

HPS_MODEL = "ViT-H-14"  # open_clip config of the network the checkpoints were fine-tuned from


@dataclass(frozen=True, slots=True)
class HpsVersion:
    """One release of the score: the metric name protocols use and its checkpoint in `resolver.WEIGHTS`."""

    version: str
    metric_name: str
    weights: str


VERSIONS = {v.version: v for v in (HpsVersion("v2.1", "hpsv21", "hps-v2.1"), HpsVersion("v2.0", "hpsv2", "hps-v2.0"))}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
PREPROCESSING = "hpsv2's evaluation transform: x/255, longest side to the model's size (torchvision bicubic on the " \
                "tensor, antialias), zero padding to a centred square, OpenAI CLIP mean/std"


def resize_longest_pad(image: Image.Image, size: int) -> torch.Tensor:
    """The transform `hpsv2.score` uses (its open_clip fork, `light_augmentation=True` -> `ResizeMaxSize`): to a
    tensor first, the longest side bicubic-resized to `size` (an image already that long is left unpadded, as
    there), the short side zero-padded on both sides (the odd pixel on the right / bottom), then normalised."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tf

    x = tf.to_tensor(image.convert("RGB"))
    height, width = x.shape[1:]
    scale = size / float(max(height, width))
    if scale != 1.0:
        new = [round(height * scale), round(width * scale)]
        x = tf.resize(x, new, InterpolationMode.BICUBIC, antialias=True)
        pad_h, pad_w = size - new[0], size - new[1]
        x = tf.pad(x, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)
    return tf.normalize(x, OPENAI_MEAN, OPENAI_STD)


class HPS(CLIPScore):
    """Per-sample `scale * cos(image, prompt)` of an HPS checkpoint, mean with a bootstrap 95% CI. The scoring code
    is CLIP score's (same embeddings, same cosine), with no prompt prefix and no clamping."""

    kind = catalog.HPS
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def __init__(self, model, preprocess, tokenizer, hps: HpsVersion, model_id: str, weights_sha256: str,
                 scale: float = 100.0, tokenizer_id: str = f"open_clip get_tokenizer({HPS_MODEL!r})") -> None:
        self.name, self.hps, self.tokenizer_id = hps.metric_name, hps, tokenizer_id
        super().__init__(model, preprocess, tokenizer, ClipScoreConfig(
            model_id=model_id, weights_sha256=weights_sha256, scale=scale, preprocessing=PREPROCESSING))

    def spec(self) -> dict[str, Any]:
        """Checkpoint version, model, weights and formula: everything that changes the number."""
        c = self.config
        return self.kind.spec(hps_version=self.hps.version, formula=catalog.HPS_FORMULA, model_id=c.model_id,
                              weights_sha256=c.weights_sha256, scale=c.scale, preprocessing=c.preprocessing,
                              tokenizer=self.tokenizer_id)


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of an HPS checkpoint file ({"state_dict": ...}, as the authors publish it)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"{path}: not an HPS checkpoint (expected a dict with a 'state_dict' entry)")
    return checkpoint["state_dict"]


def build_hps(version: str = "v2.1", weights: str | Path | None = None, model_name: str = HPS_MODEL,
              scale: float = 100.0, allow_download: bool = True) -> HPS:
    """The HPS metric of `version`: the checkpoint through the one resolver, loaded strictly into open_clip's
    `model_name` (ViT-H-14; tests pass a tiny registered config)."""
    import open_clip  # a heavy backend, imported only when the metric is built

    if version not in VERSIONS:
        raise ValueError(f"unknown HPS version {version!r}; use one of {', '.join(VERSIONS)}")
    hps = VERSIONS[version]
    path = resolver.resolve(resolver.WEIGHTS.get(hps.weights), explicit=weights, allow_download=allow_download)
    model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=None)
    model.load_state_dict(load_checkpoint(path), strict=True)
    size = model.visual.image_size
    preprocess = partial(resize_longest_pad, size=size[0] if isinstance(size, tuple) else size)
    return HPS(model, preprocess, open_clip.get_tokenizer(model_name), hps,
               model_id=f"open_clip:{model_name}:{hps.weights}", weights_sha256=resolver.sha256_file(path),
               scale=scale, tokenizer_id=f"open_clip get_tokenizer({model_name!r})")
