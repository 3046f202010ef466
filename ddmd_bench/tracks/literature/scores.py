"""Per-sample, reference-free scores a literature protocol can add beside FID and CLIP score (ImageReward, HPSv2.1,
HPSv2, PickScore): for each, the weight files it loads (resolver.WEIGHTS names), the identity a protocol declares
for it without loading anything, and how a run builds it once every file was resolved.

`scale` is the factor a paper prints the score with (Decoupled DMD prints ImageReward and HPSv2.1 x 100), so a
measured value reads like the paper's table; it is part of the declared identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.registry import Registry

IMAGE_REWARD_WEIGHTS = ("imagereward", "imagereward-med-config", "bert-base-uncased-vocab")
PICKSCORE_WEIGHTS = ("pickscore-v1", "pickscore-v1-config", "pickscore-processor-preprocessor-config",
                     "pickscore-processor-tokenizer", "pickscore-processor-tokenizer-config",
                     "pickscore-processor-special-tokens-map")


@dataclass(frozen=True, slots=True)
class ScoreMetric:
    """One per-sample score as a protocol uses it."""

    name: str  # the metric name in the protocol (a catalog.METRICS name)
    weights: tuple[str, ...]  # resolver.WEIGHTS names, resolved before any metric is built
    declared: Callable[[float], dict[str, Any]]  # scale -> the identity the protocol records (torch-free)
    build: Callable[[float], Any]  # scale -> a fresh metric (loads the weights: only a run calls it)


def _weights_note(names: tuple[str, ...]) -> str:
    first = resolver.WEIGHTS.get(names[0])
    return f"{first.repo_id}/{first.filename} (resolver entry {first.name}; sha256 recorded per result)"


def _image_reward(scale: float):
    from ddmd_bench.metrics.image_reward import build_image_reward  # transformers and torch: only a run needs them

    return build_image_reward(allow_download=False, scale=scale)  # its files were resolved (or refused) with the rest


def _hps(version: str) -> Callable[[float], Any]:
    def build(scale: float):
        from ddmd_bench.metrics.hps import build_hps  # open_clip and torch: only a run needs them

        return build_hps(version, scale=scale, allow_download=False)

    return build


def _pickscore(scale: float):
    from ddmd_bench.metrics.pickscore import build_pickscore  # transformers and torch: only a run needs them

    if scale != 1.0:
        raise ValueError("PickScore is reported unscaled (its logit scale is part of the definition)")
    return build_pickscore(allow_download=False)


def _hps_declared(version: str, weights: str) -> Callable[[float], dict[str, Any]]:
    return lambda scale: catalog.HPS.spec(hps_version=version, formula=catalog.HPS_FORMULA, model="ViT-H-14",
                                          weights=_weights_note((weights,)), scale=scale)


SCORES: Registry[ScoreMetric] = Registry("score metric")
for _score in (
    ScoreMetric("image_reward", IMAGE_REWARD_WEIGHTS,
                lambda scale: catalog.IMAGE_REWARD.spec(model_id="THUDM/ImageReward", scale=scale,
                                                        weights=_weights_note(IMAGE_REWARD_WEIGHTS)),
                _image_reward),
    ScoreMetric("hpsv21", ("hps-v2.1",), _hps_declared("v2.1", "hps-v2.1"), _hps("v2.1")),
    ScoreMetric("hpsv2", ("hps-v2.0",), _hps_declared("v2.0", "hps-v2.0"), _hps("v2.0")),
    ScoreMetric("pickscore", PICKSCORE_WEIGHTS,
                lambda scale: catalog.PICKSCORE.spec(formula=catalog.PICKSCORE_FORMULA,
                                                     weights=_weights_note(PICKSCORE_WEIGHTS),
                                                     processor="laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
                                                     max_length=77),
                _pickscore),
):
    SCORES.add(_score.name, _score)
