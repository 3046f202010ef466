"""PickScore (Kirstain et al. 2023, Pick-a-Pic): a CLIP-H fine-tuned on human preferences, scored as in the
authors' reference snippet: `logit_scale.exp() * cos(image, prompt)`.

Model `yuvalkirstain/PickScore_v1` (transformers `CLIPModel`), processor of the CLIP-H it was fine-tuned from
(`laion/CLIP-ViT-H-14-laion2B-s32B-b79K`: bicubic resize of the short side to 224, centre crop, OpenAI CLIP
mean/std); prompts padded and truncated to 77 tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics import functional as metric_fn
from ddmd_bench.metrics.base import MetricValue, PerSampleScores, check_image_prompt_pairs

MODEL_WEIGHTS = ("pickscore-v1", "pickscore-v1-config")  # resolver.WEIGHTS names, one snapshot folder
PROCESSOR_FILES = ("pickscore-processor-preprocessor-config", "pickscore-processor-tokenizer",
                   "pickscore-processor-tokenizer-config", "pickscore-processor-special-tokens-map")
MAX_LENGTH = 77


@dataclass(frozen=True, slots=True)
class PickScoreConfig:
    """What the number depends on besides the images and prompts."""

    model_id: str
    weights_sha256: str
    processor_id: str
    max_length: int = MAX_LENGTH
    preprocessing: str = "CLIPImageProcessor of the processor repository (PIL from uint8)"


class PickScore(PerSampleScores):
    """Per-sample PickScore, mean with a bootstrap 95% CI."""

    kind = catalog.PICKSCORE
    name, version, higher_is_better = kind.name, kind.version, kind.higher_is_better

    def __init__(self, model, processor, config: PickScoreConfig) -> None:
        self.model, self.processor, self.config = model.eval(), processor, config
        self.reset()

    @torch.no_grad()
    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """Scores [B] (float64) for uint8 images and their prompts."""
        images = check_image_prompt_pairs(images, prompts)
        pixels = self.processor(images=[Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images.cpu()],
                                return_tensors="pt")["pixel_values"]
        text = self.processor(text=list(prompts), padding=True, truncation=True, max_length=self.config.max_length,
                              return_tensors="pt")
        img = self.model.get_image_features(pixel_values=pixels).pooler_output
        txt = self.model.get_text_features(input_ids=text["input_ids"],
                                           attention_mask=text["attention_mask"]).pooler_output
        return self.model.logit_scale.exp().double() * metric_fn.cosine_similarity(img, txt)

    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        """Score a batch."""
        scores = self.score(images, prompts)
        if not torch.isfinite(scores).all():
            raise FloatingPointError("PickScore produced non-finite scores")
        self._record_batch(scores)

    def compute(self) -> MetricValue:
        """Mean score with a percentile-bootstrap CI over samples."""
        scores = self._gathered()
        ci = metric_fn.bootstrap_mean(np.asarray(scores))
        return MetricValue(value=ci.value, n=len(scores), ci_low=ci.low, ci_high=ci.high, per_sample=tuple(scores))

    def spec(self) -> dict[str, Any]:
        """Model, weights, processor and formula."""
        return self.kind.spec(formula=catalog.PICKSCORE_FORMULA, logit_scale=float(self.model.logit_scale.detach().exp()),
                              **asdict(self.config))


def load_pickscore(model_folder: str | Path, processor_folder: str | Path, weights_sha256: str,
                   model_id: str = "yuvalkirstain/PickScore_v1",
                   processor_id: str = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K") -> PickScore:
    """PickScore from a model folder (config + weights) and a processor folder, both in transformers' layout."""
    from transformers import CLIPModel, CLIPProcessor  # a heavy backend, imported only when the metric is built

    model = CLIPModel.from_pretrained(str(model_folder))
    processor = CLIPProcessor.from_pretrained(str(processor_folder))
    return PickScore(model, processor, PickScoreConfig(model_id, weights_sha256, processor_id))


def build_pickscore(allow_download: bool = True) -> PickScore:
    """The published PickScore: model and processor files through the one resolver (each lands in its repository's
    snapshot folder of the HF cache, which transformers then loads)."""
    paths = {name: resolver.resolve(resolver.WEIGHTS.get(name), allow_download=allow_download)
             for name in (*MODEL_WEIGHTS, *PROCESSOR_FILES)}
    weights = paths[MODEL_WEIGHTS[0]]
    return load_pickscore(weights.parent, paths[PROCESSOR_FILES[0]].parent, resolver.sha256_file(weights))
