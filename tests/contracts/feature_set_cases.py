"""Contract cases for the set-to-set metrics on the toy track's trained backbones: CMMD on the toy CLIP's image
embeddings, KID and improved precision/recall on the toy FID classifier's features, each against the real world
renders of the contract prompts (four per prompt, with the toy reference's seeds). Same shape as
`cases.METRICS`: case -> (registered metric name, builder, image size it is fed)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


@functools.lru_cache(maxsize=1)
def _reference_images():
    from ddmd_bench.tracks.toy import track, world
    from tests.contracts.cases import inputs

    attrs = [world.parse_prompt(p) for p in inputs()[1]]
    pairs = [(a, track.REFERENCE_SEED_BASE + track.REFERENCE_PER_PROMPT * i + j)
             for i, a in enumerate(attrs) for j in range(track.REFERENCE_PER_PROMPT)]
    return world.render_for([a for a, _ in pairs], [s for _, s in pairs]).images


@functools.lru_cache(maxsize=1)
def _toy_clip_embedder():
    from ddmd_bench.metrics.cmmd import ClipEmbedder
    from ddmd_bench.tracks.toy.loaders import load_clip

    model, preprocess, _, meta = load_clip()
    return ClipEmbedder(model, preprocess, "open_clip:ddmd-toy-clip", meta["sha256"],
                        "open_clip transform of the toy CLIP (PIL from uint8)", dim=int(model.visual.output_dim))


@functools.lru_cache(maxsize=1)
def _classifier():
    from ddmd_bench.tracks.toy.track import ClassifierFeatures

    return ClassifierFeatures()


def _reference(extractor):
    from ddmd_bench.metrics.feature_sets import reference_features

    return reference_features(extractor, [_reference_images()], "toy world renders of the contract prompts x4")


def _toy_cmmd():
    from ddmd_bench.metrics.cmmd import CMMD

    embedder = _toy_clip_embedder()
    return CMMD(embedder, _reference(embedder))


def _toy_kid():
    from ddmd_bench.metrics.kid import KID

    extractor = _classifier()
    return KID(extractor, _reference(extractor), subsets=50, subset_size=1000)


def _toy_manifold(which: str):
    from ddmd_bench.metrics.precision_recall import ImprovedPrecision, ImprovedRecall

    extractor = _classifier()
    return {"precision": ImprovedPrecision, "recall": ImprovedRecall}[which](extractor, _reference(extractor), k=3)


METRICS: dict[str, tuple[str, Callable[[], Any], int]] = {
    "toy-cmmd": ("cmmd", _toy_cmmd, 16),
    "toy-kid": ("kid", _toy_kid, 16),
    "toy-precision": ("precision", functools.partial(_toy_manifold, "precision"), 16),
    "toy-recall": ("recall", functools.partial(_toy_manifold, "recall"), 16),
}
