"""CLIP score through open_clip: cosine between image and prompt embeddings, with the formula as a setting."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.base import MetricValue, PerSampleScores, check_images


@dataclass(frozen=True, slots=True)
class ClipScoreConfig:
    """How a CLIP score is defined (docs/protocols.md lists the incompatible definitions in the literature)."""

    model_id: str
    weights_sha256: str
    scale: float = 100.0  # papers print 100 * cosine
    prefix: str = ""  # GigaGAN/DMD2 prepend "A photo depicts "
    clamp_mean_at_zero: bool = False  # torchmetrics: 100 * max(mean cos, 0)
    preprocessing: str = "open_clip transform of the model (PIL from uint8)"


class CLIPScore(PerSampleScores):
    """Per-sample `scale * cos(image, prefix + prompt)`, mean with a bootstrap 95% CI."""

    kind = catalog.CLIP_SCORE
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def __init__(self, model, preprocess, tokenizer, config: ClipScoreConfig) -> None:
        self.model, self.preprocess, self.tokenizer, self.config = model.eval(), preprocess, tokenizer, config
        self.reset()

    @torch.no_grad()
    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Score a batch: open_clip's own preprocessing on PIL images, then normalised embeddings."""
        images = check_images(images)
        pixels = torch.stack([self.preprocess(Image.fromarray(im.permute(1, 2, 0).numpy())) for im in images])
        img = self.model.encode_image(pixels)
        txt = self.model.encode_text(self.tokenizer([self.config.prefix + p for p in prompts]))
        self._record_batch(self.config.scale * metric_fn.cosine_similarity(img, txt))

    def compute(self) -> MetricValue:
        """Mean score with a percentile-bootstrap CI over samples."""
        scores = self._gathered()
        ci = metric_fn.bootstrap_mean(np.asarray(scores))
        value = max(ci.value, 0.0) if self.config.clamp_mean_at_zero else ci.value
        return MetricValue(value=value, n=len(scores), ci_low=ci.low, ci_high=ci.high, per_sample=tuple(scores))

    def spec(self) -> dict[str, Any]:
        """Model, weights and formula: everything that changes the number."""
        return self.kind.spec(formula=catalog.CLIP_FORMULA, **asdict(self.config))
