"""The toy protocol: its prompt set, reference sets and metrics, per protocol version.

v3 scores toy FID, toy CLIP score, toy ImageReward and prompt accuracy (held-in, held-out); v4 adds toy CMMD (the
toy CLIP's image embeddings), FID-T against the teacher's 50-step guided images, and KID and improved precision /
recall in the classifier's feature space. Every version stays buildable, so results of an older version can be
reproduced under its own fingerprint.
"""

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
from ddmd_bench.registry import Registry
from ddmd_bench.tracks.toy import protocol_facts as facts, shipped, teacher_reference, world
from ddmd_bench.tracks.toy.prompts import toy_prompt_set

if TYPE_CHECKING:
    from ddmd_bench.metrics.base import Metric
    from ddmd_bench.metrics.feature_sets import ReferenceFeatures
    from ddmd_bench.metrics.fid import ReferenceStats

SEED_BASE = 1_000_000
REFERENCE_SEED_BASE = 2_000_000
REFERENCE_PER_PROMPT = 4
FID_BOOTSTRAP = 200  # 128-d features: 200 resamples cost well under a second
LATENCY = LatencyConfig(warmup=1, rounds=5, batch_size=1)
PR_K = 3  # improved precision / recall neighbourhood (Kynkaanniemi et al. 2019 use k = 3)
KID_SUBSETS, KID_MAX_SUBSET, KID_SEED = 100, 1000, 0


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
        """Fresh metric objects for every metric `protocol` declares (each built as it declares it)."""
        return {name: METRIC_BUILDERS.get(name)(self, protocol) for name in protocol.metrics}


# Each builder imports its metric class and loads its toy model when called: torchmetrics and the toy models'
# backends load for a run, not for listings that build the protocol (`prompts list`, `methods list`).
METRIC_BUILDERS: Registry[Any] = Registry("toy metric")


@METRIC_BUILDERS.register("fid")
def _build_fid(context: ToyContext, protocol: Protocol) -> Metric:
    from ddmd_bench.metrics.fid import FID

    extractor = ClassifierFeatures()
    declared = protocol.metrics["fid"]
    return FID(extractor, _reference(context.prompt_set, extractor.id), bootstrap=declared["bootstrap"],
               sqrt_method=catalog.sqrt_method(declared["sqrt_method"]).name)


@METRIC_BUILDERS.register("fid_t")
def _build_fid_t(context: ToyContext, protocol: Protocol) -> Metric:
    from ddmd_bench.metrics.fid_teacher import TeacherFID, TeacherOutputs

    extractor = ClassifierFeatures()
    declared = protocol.metrics["fid_t"]
    outputs = TeacherOutputs.from_dict(declared["teacher"])
    stats = teacher_reference.teacher_reference(list(context.prompt_set.prompts),
                                                protocol.seeds(len(context.prompt_set.prompts)), outputs, extractor)
    return TeacherFID(extractor, stats, outputs, bootstrap=declared["bootstrap"],
                      sqrt_method=catalog.sqrt_method(declared["sqrt_method"]).name)


@METRIC_BUILDERS.register("image_reward")
def _build_image_reward(context: ToyContext, protocol: Protocol) -> Metric:
    from ddmd_bench.tracks.toy.loaders import load_reward

    reward_model, reward_tokenizer, reward_meta = load_reward()
    return ImageReward(reward_model, reward_tokenizer, reward_meta["sha256"], model_id=REWARD_MODEL_ID)


@METRIC_BUILDERS.register("clip_score")
def _build_clip_score(context: ToyContext, protocol: Protocol) -> Metric:
    from ddmd_bench.tracks.toy.loaders import load_clip

    model, preprocess, tokenizer, clip_meta = load_clip()
    return CLIPScore(model, preprocess, tokenizer, _clip_config(clip_meta["sha256"]))


def _build_accuracy(subset: AccuracySubset):
    def build(context: ToyContext, protocol: Protocol) -> Metric:
        from ddmd_bench.metrics.prompt_accuracy import PromptAccuracy
        from ddmd_bench.tracks.toy.loaders import load_classifier

        classifier, cls_meta = load_classifier()
        return PromptAccuracy(subset.metric, classifier.predict, world.parse_prompt, subset.accepts,
                              _accuracy_spec(cls_meta["sha256"], subset.description), world.ATTRIBUTES)

    return build


for _subset in ACCURACY_SUBSETS:
    METRIC_BUILDERS.add(_subset.metric, _build_accuracy(_subset))


@METRIC_BUILDERS.register("cmmd")
def _build_cmmd(context: ToyContext, protocol: Protocol) -> Metric:
    from ddmd_bench.metrics.cmmd import CMMD

    embedder = clip_embedder()
    declared = protocol.metrics["cmmd"]
    reference = _real_embeddings(context.prompt_set, embedder.id, REFERENCE_PER_PROMPT)
    return CMMD(embedder, reference, sigma=declared["sigma"], scale=declared["scale"])


@METRIC_BUILDERS.register("kid")
def _build_kid(context: ToyContext, protocol: Protocol) -> Metric:
    from ddmd_bench.metrics.kid import KID

    extractor = ClassifierFeatures()
    declared = protocol.metrics["kid"]
    return KID(extractor, _real_features(context.prompt_set, extractor.id, REFERENCE_PER_PROMPT),
               subsets=declared["subsets"], subset_size=declared["subset_size"], seed=declared["seed"])


def _build_manifold(metric: str):
    def build(context: ToyContext, protocol: Protocol) -> Metric:
        from ddmd_bench.metrics.precision_recall import ImprovedPrecision, ImprovedRecall

        extractor = ClassifierFeatures()
        cls = ImprovedPrecision if metric == "precision" else ImprovedRecall
        return cls(extractor, _real_features(context.prompt_set, extractor.id, 1), k=protocol.metrics[metric]["k"])

    return build


for _metric in ("precision", "recall"):
    METRIC_BUILDERS.add(_metric, _build_manifold(_metric))


def _real_images(prompt_set: PromptSet, per_prompt: int):
    """Batches of real world images for the prompts, `per_prompt` each, seed = REFERENCE_SEED_BASE +
    REFERENCE_PER_PROMPT i + j (j < per_prompt: one per prompt is the first of the FID reference's renders)."""
    attrs = [world.parse_prompt(p) for p in prompt_set.prompts]
    pairs = [(a, REFERENCE_SEED_BASE + REFERENCE_PER_PROMPT * i + j)
             for i, a in enumerate(attrs) for j in range(per_prompt)]
    return (world.render_for([a for a, _ in pairs[k:k + 512]], [s for _, s in pairs[k:k + 512]]).images
            for k in range(0, len(pairs), 512))


def _real_set_id(prompt_set: PromptSet, per_prompt: int) -> str:
    return f"toy-world-real:{prompt_set.sha256[:12]}x{per_prompt}"


@lru_cache(maxsize=4)
def _reference(prompt_set: PromptSet, extractor_id: str) -> ReferenceStats:
    """Real world images for the same prompts, REFERENCE_PER_PROMPT per prompt, with their own seeds.

    Cached per (prompt set, extractor): every generator of one `evaluate` call shares the same reference.
    """
    extractor = ClassifierFeatures()
    assert extractor.id == extractor_id, "shipped classifier changed during the run"
    from ddmd_bench.metrics.fid import reference_stats  # torchmetrics: only when a run needs the reference

    return reference_stats(extractor, _real_images(prompt_set, REFERENCE_PER_PROMPT),
                           _real_set_id(prompt_set, REFERENCE_PER_PROMPT))


@lru_cache(maxsize=8)
def _real_features(prompt_set: PromptSet, extractor_id: str, per_prompt: int) -> ReferenceFeatures:
    """Classifier features of the real images (`_real_images`), cached like `_reference`."""
    extractor = ClassifierFeatures()
    assert extractor.id == extractor_id, "shipped classifier changed during the run"
    from ddmd_bench.metrics.feature_sets import reference_features  # torchmetrics: only for a run

    return reference_features(extractor, _real_images(prompt_set, per_prompt), _real_set_id(prompt_set, per_prompt))


@lru_cache(maxsize=4)
def _real_embeddings(prompt_set: PromptSet, embedder_id: str, per_prompt: int) -> ReferenceFeatures:
    """Toy CLIP image embeddings of the real images (`_real_images`), cached like `_reference`."""
    embedder = clip_embedder()
    assert embedder.id == embedder_id, "shipped CLIP model changed during the run"
    from ddmd_bench.metrics.feature_sets import reference_features  # torchmetrics: only for a run

    return reference_features(embedder, _real_images(prompt_set, per_prompt), _real_set_id(prompt_set, per_prompt))


def clip_embedder():
    """The toy CLIP's image tower as a CMMD embedder (its own open_clip transform; 16 px in)."""
    from ddmd_bench.metrics.cmmd import ClipEmbedder
    from ddmd_bench.tracks.toy.loaders import load_clip

    model, preprocess, _, clip_meta = load_clip()
    return ClipEmbedder(model, preprocess, model_id=f"{CLIP_MODEL_ID}@{clip_meta['sha256'][:12]}",
                        weights_sha256=clip_meta["sha256"], preprocessing=CLIP_PREPROCESSING,
                        dim=int(model.visual.output_dim))


CLIP_MODEL_ID = "open_clip:ddmd-toy-clip"
CLIP_PREPROCESSING = "open_clip transform of the model (PIL from uint8)"


def _clip_config(sha: str) -> ClipScoreConfig:
    return ClipScoreConfig(model_id=CLIP_MODEL_ID, weights_sha256=sha, scale=100.0)


def metric_specs(version: int = facts.VERSION, prompt_set: dict[str, Any] | None = None,
                 seed_rule: str | None = None) -> dict[str, dict[str, Any]]:
    """Metric identities of toy protocol `version`, read from the manifest (no model is loaded). `prompt_set` and
    `seed_rule` (the protocol's) identify the teacher images FID-T compares with (v4 on)."""
    cls_entry = shipped.entry("classifier")
    cls_sha = cls_entry["sha256"]
    classifier = {"extractor": extractor_id(cls_sha, cls_entry["model_config"]["feature_dim"]),
                  "weights_sha256": cls_sha}
    fid = {"sqrt_method": catalog.SQRT_METHODS.get(FID_SQRT_METHOD).brief, "bootstrap": FID_BOOTSTRAP}
    specs = {
        "fid": catalog.FID.spec(
            **classifier, reference=f"real world images, {REFERENCE_PER_PROMPT} per prompt, "
                                    f"seed = {REFERENCE_SEED_BASE} + {REFERENCE_PER_PROMPT} i + j", **fid),
        "clip_score": catalog.CLIP_SCORE.spec(**asdict(_clip_config(shipped.entry("clip")["sha256"]))),
        "image_reward": catalog.IMAGE_REWARD.spec(
            model_id=REWARD_MODEL_ID, weights_sha256=shipped.entry("reward")["sha256"],
            preprocessing="16 px: CLIP mean/std (resize and crop are the identity)"),
        **{s.metric: _accuracy_spec(cls_sha, s.label) for s in ACCURACY_SUBSETS},
    }
    if version >= 4:
        if prompt_set is None or seed_rule is None:
            raise ValueError("toy protocol v4 metric specs need the protocol's prompt set and seed rule (FID-T)")
        specs.update(_v4_specs(classifier, fid, prompt_set, seed_rule))
    return {name: specs[name] for name in facts.metrics(version)}


def _v4_specs(classifier: dict[str, str], fid: dict[str, Any], prompt_set: dict[str, Any],
              seed_rule: str) -> dict[str, dict[str, Any]]:
    from ddmd_bench.metrics import kernel_functional as kernel_fn  # numpy and scipy: only when v4 is built

    clip_sha = shipped.entry("clip")["sha256"]
    real = f"real world images, {REFERENCE_PER_PROMPT} per prompt, seed = {REFERENCE_SEED_BASE} + " \
           f"{REFERENCE_PER_PROMPT} i + j"
    first = f"real world images, 1 per prompt, seed = {REFERENCE_SEED_BASE} + {REFERENCE_PER_PROMPT} i"
    manifold = {**classifier, "reference": first, "k": PR_K, "distance": "euclidean"}
    return {
        "cmmd": catalog.CMMD.spec(
            extractor=f"{CLIP_MODEL_ID}@{clip_sha[:12]}", weights_sha256=clip_sha, preprocessing=CLIP_PREPROCESSING,
            reference=real, embedding_normalisation="L2", kernel="gaussian", sigma=kernel_fn.CMMD_SIGMA,
            estimator=catalog.CMMD_ESTIMATOR, scale=kernel_fn.CMMD_SCALE),
        "fid_t": catalog.FID_T.spec(
            **classifier, teacher=teacher_reference.teacher_outputs(prompt_set, seed_rule).to_dict(), **fid),
        "kid": catalog.KID.spec(**classifier, reference=real, kernel=catalog.KID_KERNEL, estimator="unbiased MMD^2",
                                subsets=KID_SUBSETS, subset_size=min(KID_MAX_SUBSET, int(prompt_set["n"])),
                                seed=KID_SEED),
        "precision": catalog.PRECISION.spec(**manifold),
        "recall": catalog.RECALL.spec(**manifold),
    }


def minimum_limit(prompts: PromptSet) -> int:
    """The smallest prefix of `prompts` holding both a held-in and a held-out prompt (each has its own accuracy
    metric, and a mean over zero samples is undefined)."""
    held_out = [world.is_held_out(world.parse_prompt(p)) for p in prompts.prompts]
    return max(held_out.index(True), held_out.index(False)) + 1


def toy_protocol(limit: int | None = None, version: int = facts.VERSION) -> tuple[Protocol, ToyContext]:
    """The toy protocol (320 prompts) or a prefix of it (a different protocol, named so), at `version` (default:
    the current one; older versions stay buildable with the metrics they had)."""
    facts.metrics(version)  # an unknown version fails here, naming the known ones
    prompts = toy_prompt_set()
    if limit is not None:
        if limit < minimum_limit(prompts):
            raise ValueError(f"--limit {limit}: the toy protocol scores held-in and held-out prompts separately, and "
                             f"the first {limit} prompt(s) lack one of the two subsets (the first held-out prompt "
                             f"is number {minimum_limit(prompts)}); use --limit {minimum_limit(prompts)} or more")
        prompts = prompts.head(limit)
    seed_rule = f"seed_i = {SEED_BASE} + i"
    protocol = Protocol(
        name=facts.NAME if prompts.name == "toy" else f"toy-n{len(prompts.prompts)}",
        version=version,
        track="toy",
        prompt_set=prompts.ref(),
        images_per_prompt=1,
        resolution=world.RESOLUTION,
        seed_rule=seed_rule,
        seed_base=SEED_BASE,
        metrics=metric_specs(version, prompts.ref(), seed_rule),
        latency={**asdict(LATENCY), "device": "cpu", "what": "generate() for one prompt: text encoding, "
                 "denoising loop, uint8 conversion"},
        description=facts.DESCRIPTION,
        columns=facts.columns(version),
    )
    return protocol, ToyContext(prompts)
