"""Named CLIP-score presets reproducing the definitions papers use (docs/protocols.md), loaded via the resolver.

| preset | model (open_clip) | formula | prefix | extra preprocessing |
|---|---|---|---|---|
| dmd2 | ViT-g-14 laion2b_s12b_b42k | raw cosine (papers print x100) | "A photo depicts " | centre crop, LANCZOS 256 |
| mlperf | ViT-B-32-quickgelu, OpenAI weights | 100 cos | - | - |
| torchmetrics | ViT-L-14-quickgelu, OpenAI weights | 100 max(mean cos, 0) | - | - |

OpenAI's CLIP weights were trained with QuickGELU. open_clip builds them with it when asked for the `openai`
pretrained tag, but not when the weights come from a file path, which is how the resolver hands them over: the
presets therefore name the `-quickgelu` model configs explicitly.

The torchmetrics preset uses open_clip's copy of the OpenAI ViT-L/14 weights and open_clip's transform, not the
Hugging Face processor that torchmetrics calls, so it matches torchmetrics' formula but not necessarily its
preprocessing to the last bit; the spec records this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from ddmd_bench import resolver
from ddmd_bench.metrics.clip_score import CLIPScore, ClipScoreConfig
from ddmd_bench.metrics.transforms import centre_crop_resize
from ddmd_bench.registry import Registry


@dataclass(frozen=True, slots=True)
class ClipPreset:
    """A CLIP-score definition: model, weights entry in the resolver, formula and preprocessing."""

    name: str
    model_name: str
    weights: str  # name in ddmd_bench.resolver.WEIGHTS
    scale: float
    prefix: str = ""
    clamp_mean_at_zero: bool = False
    pre_resize: int | None = None  # centre-crop the long edge, then LANCZOS to this size, before CLIP's transform
    note: str = ""


PRESETS: Registry[ClipPreset] = Registry("CLIP-score preset")
for _p in (
    ClipPreset("dmd2", "ViT-g-14", "openclip-vit-g-14-laion2b-s12b-b42k", scale=1.0, prefix="A photo depicts ",
               pre_resize=256, note="GigaGAN/DMD/DMD2 evaluation: raw cosine"),
    ClipPreset("mlperf", "ViT-B-32-quickgelu", "openclip-vit-b-32-openai", scale=100.0, note="MLPerf Inference SDXL"),
    ClipPreset("torchmetrics", "ViT-L-14-quickgelu", "openclip-vit-l-14-openai", scale=100.0, clamp_mean_at_zero=True,
               note="torchmetrics CLIPScore formula; open_clip transform instead of the HF processor"),
):
    PRESETS.add(_p.name, _p)


def _compose(first: Callable, then: Callable) -> Callable:
    return lambda image: then(first(image))


def build_clip_score(preset: str | ClipPreset, weights: str | Path | None = None) -> CLIPScore:
    """A CLIPScore metric for a preset; weights resolve offline-first (see ddmd_bench.resolver)."""
    import open_clip  # a heavy backend, imported only when a CLIP metric is built

    p = PRESETS.get(preset) if isinstance(preset, str) else preset
    path = resolver.resolve(resolver.WEIGHTS.get(p.weights), explicit=weights)
    model, _, preprocess = open_clip.create_model_and_transforms(p.model_name, pretrained=str(path))
    return preset_metric(p, model, preprocess, open_clip.get_tokenizer(p.model_name),
                         model_id=f"open_clip:{p.model_name}:{p.weights}", weights_sha256=resolver.sha256_file(path))


def preset_metric(p: ClipPreset, model, preprocess: Callable, tokenizer: Callable, model_id: str,
                  weights_sha256: str,
                  described: str = "open_clip transform of the model (PIL from uint8)") -> CLIPScore:
    """A preset's formula and preprocessing around an already-built model (any object with open_clip's
    `encode_image` / `encode_text`), its image transform and tokenizer."""
    if p.pre_resize:
        preprocess = _compose(partial(centre_crop_resize, size=p.pre_resize), preprocess)
        described = f"centre crop + LANCZOS {p.pre_resize}, then " + described
    config = ClipScoreConfig(model_id=model_id, weights_sha256=weights_sha256, scale=p.scale, prefix=p.prefix,
                             clamp_mean_at_zero=p.clamp_mean_at_zero, preprocessing=described)
    return CLIPScore(model, preprocess, tokenizer, config)


def with_model(preset: str, model_name: str, weights: str) -> ClipPreset:
    """A preset's formula and preprocessing over another model (used by tests with tiny models)."""
    return replace(PRESETS.get(preset), model_name=model_name, weights=weights)
