"""The toy protocol: its prompt set, reference set and metrics (toy FID, toy CLIP score, prompt accuracy)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.clip_score import CLIPScore, ClipScoreConfig
from ddmd_bench.metrics.image_reward import ImageReward
from ddmd_bench.metrics.latency import LatencyConfig
from ddmd_bench.prompts import PromptSet
from ddmd_bench.protocol import Protocol
from ddmd_bench.tracks.toy import protocol_facts as facts, shipped, world
from ddmd_bench.tracks.toy.prompts import toy_prompt_set

if TYPE_CHECKING:
    from ddmd_bench.metrics.fid import ReferenceStats

SEED_BASE = 1_000_000
REFERENCE_SEED_BASE = 2_000_000
REFERENCE_PER_PROMPT = 4
FID_BOOTSTRAP = 200  # 128-d features: 200 resamples cost well under a second
LATENCY = LatencyConfig(warmup=1, rounds=5, batch_size=1)


def extractor_id(weights_sha256: str, dim: int) -> str:
    """Identity of the toy FID feature space (weights and width)."""
    return f"toy-classifier-features-{dim}d@{weights_sha256[:12]}"


class ClassifierFeatures:
    """The toy FID feature extractor: the attribute classifier's penultimate layer."""

    preprocessing = "uint8 16x16 -> float x/127.5 - 1 (no resize)"

    def __init__(self) -> None:
        from ddmd_bench.tracks.toy.loaders import load_classifier  # models load only for a run, not for listings

        self.model, meta = load_classifier()
        self.weights_sha256 = meta["sha256"]
        self.dim = self.model.config.feature_dim
        self.id = extractor_id(self.weights_sha256, self.dim)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Features [B, dim]."""
        return self.model.features(images)


@dataclass(frozen=True, slots=True)
class AccuracySubset:
    """One prompt-accuracy metric of the toy protocol: which prompts it scores, and how its identity names them."""

    metric: str
    held_out: bool
    label: str  # in the protocol's spec (part of its fingerprint)
    description: str  # in each result's spec (part of every committed record)

    def accepts(self, attributes: dict[str, str]) -> bool:
        """Whether a prompt with these attributes belongs to the subset."""
        return world.is_held_out(attributes) == self.held_out


ACCURACY_SUBSETS = (
    AccuracySubset("prompt_accuracy", held_out=False, label="held-in", description="held-in"),
    AccuracySubset("prompt_accuracy_heldout", held_out=True, label="held-out",
                   description="held-out (shape, colour) pairs never shown in training"),
)
CLASSIFIER = "toy attribute classifier"  # the prompt-accuracy metrics' implementation: the shipped classifier
FID_SQRT_METHOD = "eigh"  # the toy leaderboard's records were measured with it (128-d, so speed does not matter here)
REWARD_MODEL_ID = "ddmd-bench toy reward model"


def _accuracy_spec(weights_sha256: str, subset: str) -> dict[str, Any]:
    return catalog.PROMPT_ACCURACY.spec(implementation=CLASSIFIER, weights_sha256=weights_sha256, subset=subset)


@dataclass(frozen=True, slots=True)
class ToyContext:
    """What the runner needs besides the protocol itself."""

    prompt_set: PromptSet
    resize_generated = True  # toy metrics take 16 px images: any generator's output is brought to that size

    def build_metrics(self, protocol: Protocol) -> dict[str, Any]:
        """Fresh metric objects for a run of `protocol`."""
        # torchmetrics (FID and prompt-accuracy states) and the toy models' backends load here, so listings that
        # build the protocol (`prompts list`, `methods list`) do not pay for them
        from ddmd_bench.metrics.fid import FID
        from ddmd_bench.metrics.prompt_accuracy import PromptAccuracy
        from ddmd_bench.tracks.toy.loaders import load_classifier, load_clip, load_reward

        extractor = ClassifierFeatures()
        classifier, cls_meta = load_classifier()
        model, preprocess, tokenizer, clip_meta = load_clip()
        reward_model, reward_tokenizer, reward_meta = load_reward()
        accuracy = {s.metric: PromptAccuracy(s.metric, classifier.predict, world.parse_prompt, s.accepts,
                                             _accuracy_spec(cls_meta["sha256"], s.description), world.ATTRIBUTES)
                    for s in ACCURACY_SUBSETS}
        declared = protocol.metrics["fid"]  # the FID is built as the protocol declares it
        return {
            "fid": FID(extractor, _reference(self.prompt_set, extractor.id), bootstrap=declared["bootstrap"],
                       sqrt_method=catalog.sqrt_method(declared["sqrt_method"]).name),
            "image_reward": ImageReward(reward_model, reward_tokenizer, reward_meta["sha256"],
                                        model_id=REWARD_MODEL_ID),
            "clip_score": CLIPScore(model, preprocess, tokenizer, _clip_config(clip_meta["sha256"])),
            **accuracy,
        }


@lru_cache(maxsize=4)
def _reference(prompt_set: PromptSet, extractor_id: str) -> ReferenceStats:
    """Real world images for the same prompts, REFERENCE_PER_PROMPT per prompt, with their own seeds.

    Cached per (prompt set, extractor): every generator of one `evaluate` call shares the same reference.
    """
    extractor = ClassifierFeatures()
    assert extractor.id == extractor_id, "shipped classifier changed during the run"
    attrs = [world.parse_prompt(p) for p in prompt_set.prompts]
    pairs = [(a, REFERENCE_SEED_BASE + REFERENCE_PER_PROMPT * i + j)
             for i, a in enumerate(attrs) for j in range(REFERENCE_PER_PROMPT)]
    batches = (world.render_for([a for a, _ in pairs[k:k + 512]], [s for _, s in pairs[k:k + 512]]).images
               for k in range(0, len(pairs), 512))
    from ddmd_bench.metrics.fid import reference_stats  # torchmetrics: only when a run needs the reference

    return reference_stats(extractor, batches, f"toy-world-real:{prompt_set.sha256[:12]}x{REFERENCE_PER_PROMPT}")


def _clip_config(sha: str) -> ClipScoreConfig:
    return ClipScoreConfig(model_id="open_clip:ddmd-toy-clip", weights_sha256=sha, scale=100.0)


def metric_specs() -> dict[str, dict[str, Any]]:
    """Metric identities for the toy protocol, read from the manifest (no model is loaded)."""
    cls_entry = shipped.entry("classifier")
    cls_sha = cls_entry["sha256"]
    return {
        "fid": catalog.FID.spec(
            extractor=extractor_id(cls_sha, cls_entry["model_config"]["feature_dim"]), weights_sha256=cls_sha,
            reference=f"real world images, {REFERENCE_PER_PROMPT} per prompt, "
                      f"seed = {REFERENCE_SEED_BASE} + {REFERENCE_PER_PROMPT} i + j",
            sqrt_method=catalog.SQRT_METHODS.get(FID_SQRT_METHOD).brief, bootstrap=FID_BOOTSTRAP),
        "clip_score": catalog.CLIP_SCORE.spec(**asdict(_clip_config(shipped.entry("clip")["sha256"]))),
        "image_reward": catalog.IMAGE_REWARD.spec(
            model_id=REWARD_MODEL_ID, weights_sha256=shipped.entry("reward")["sha256"],
            preprocessing="16 px: CLIP mean/std (resize and crop are the identity)"),
        **{s.metric: _accuracy_spec(cls_sha, s.label) for s in ACCURACY_SUBSETS},
    }


def minimum_limit(prompts: PromptSet) -> int:
    """The smallest prefix of `prompts` holding both a held-in and a held-out prompt (each has its own accuracy
    metric, and a mean over zero samples is undefined)."""
    held_out = [world.is_held_out(world.parse_prompt(p)) for p in prompts.prompts]
    return max(held_out.index(True), held_out.index(False)) + 1


def toy_protocol(limit: int | None = None) -> tuple[Protocol, ToyContext]:
    """The toy protocol (320 prompts) or a prefix of it (a different protocol, named so)."""
    prompts = toy_prompt_set()
    if limit is not None:
        if limit < minimum_limit(prompts):
            raise ValueError(f"--limit {limit}: the toy protocol scores held-in and held-out prompts separately, and "
                             f"the first {limit} prompt(s) lack one of the two subsets (the first held-out prompt "
                             f"is number {minimum_limit(prompts)}); use --limit {minimum_limit(prompts)} or more")
        prompts = prompts.head(limit)
    protocol = Protocol(
        name=facts.NAME if prompts.name == "toy" else f"toy-n{len(prompts.prompts)}",
        version=facts.VERSION,
        track="toy",
        prompt_set=prompts.ref(),
        images_per_prompt=1,
        resolution=world.RESOLUTION,
        seed_rule=f"seed_i = {SEED_BASE} + i",
        seed_base=SEED_BASE,
        metrics=metric_specs(),
        latency={**asdict(LATENCY), "device": "cpu", "what": "generate() for one prompt: text encoding, "
                 "denoising loop, uint8 conversion"},
        description=facts.DESCRIPTION,
    )
    return protocol, ToyContext(prompts)
