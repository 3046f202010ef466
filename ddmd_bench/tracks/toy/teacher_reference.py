"""The toy FID-T reference: the shipped teacher's images for the protocol's prompts and seeds, sampled with its
reference recipe (50 flow-Euler steps, guidance 3.0, the `toy-teacher/euler-50/cfg3` generator), reduced to feature
statistics and cached on disk under a hash of everything that determines them.

The cache key covers the teacher's weights sha256, the recipe, the prompt set's sha256, every seed and the feature
extractor's id, so a retrained teacher or classifier, another prompt prefix or another seed rule is a different file;
each file also carries the sha256 of its own content (`metrics.reference.load` checks it), and a file whose recorded
identity differs from the one asked for is recomputed, never used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ddmd_bench.metrics.teacher_outputs import TeacherOutputs
from ddmd_bench.protocol import canonical_json
from ddmd_bench.tracks.toy import shipped, world
from ddmd_bench.tracks.toy.generator_specs import ToyGeneratorSpec
from ddmd_bench.tracks.toy.suite import TOY_GUIDANCE

if TYPE_CHECKING:
    from ddmd_bench.metrics.fid import FeatureExtractor, ReferenceStats

log = logging.getLogger(__name__)

# The teacher's best-quality sampler in the toy leaderboard: what a distilled student should reproduce.
TEACHER_RECIPE = ToyGeneratorSpec("teacher", steps=50, guidance=TOY_GUIDANCE)
BATCH = 64


def teacher_outputs(prompt_set: dict, seed_rule: str) -> TeacherOutputs:
    """Identity of the teacher's images for a protocol's prompts and seeds (read from the manifest: no model is
    loaded)."""
    spec = TEACHER_RECIPE
    return TeacherOutputs(teacher=f"ddmd-bench toy {spec.model} ({spec.name})",
                          weights_sha256=shipped.entry(spec.model)["sha256"],
                          recipe={"scheduler": spec.scheduler, "steps": spec.steps, "guidance": spec.guidance,
                                  "resolution": world.RESOLUTION},
                          prompt_set=dict(prompt_set), seed_rule=seed_rule)


def cache_key(outputs: TeacherOutputs, seeds: list[int], extractor_id: str) -> str:
    """sha256 of everything the statistics depend on."""
    content = {"teacher": outputs.to_dict(), "seeds": list(seeds), "extractor": extractor_id}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/ddmd-bench/toy-fid-t` (default `~/.cache/ddmd-bench/toy-fid-t`)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ddmd-bench" / "toy-fid-t"


def teacher_reference(prompts: list[str], seeds: list[int], outputs: TeacherOutputs,
                      extractor: FeatureExtractor) -> ReferenceStats:
    """Feature statistics of the teacher's images for (`prompts`, `seeds`): from the cache when a file with exactly
    this identity is there, else sampled, saved and returned."""
    # torch and torchmetrics: only when a run needs the reference
    from ddmd_bench.metrics import reference
    from ddmd_bench.metrics.fid import reference_stats

    if len(prompts) != len(seeds) or len(prompts) != outputs.prompt_set.get("n"):
        raise ValueError(f"teacher reference: {len(prompts)} prompts and {len(seeds)} seeds for a prompt set of "
                         f"{outputs.prompt_set.get('n')}")
    key = cache_key(outputs, seeds, extractor.id)
    identity = {"teacher": outputs.to_dict(), "cache_key": key}
    path = cache_dir() / f"{key}.npz"
    if path.exists():
        try:
            stats, meta = reference.load(path)
            if meta.get("identity") == identity and stats.extractor_id == extractor.id:
                log.info("toy FID-T reference from %s", path)
                return stats
            log.warning("%s: recorded identity differs from the one asked for; recomputing it", path)
        except ValueError as exc:  # a corrupted cache file is recomputed, not trusted
            log.warning("%s; recomputing it", exc)
    stats = reference_stats(extractor, _teacher_images(prompts, seeds, outputs), f"toy-teacher:{key[:16]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # a killed run leaves no half-written cache file
        written = Path(tmp) / path.name
        reference.save(stats, extractor, written, identity)
        os.replace(written, path)
    log.info("toy FID-T reference: %d teacher images sampled, saved to %s", len(prompts), path)
    return stats


def _teacher_images(prompts: list[str], seeds: list[int], outputs: TeacherOutputs):
    """Batches of the teacher's uint8 images, sampled exactly as `evaluate` samples TEACHER_RECIPE."""
    from ddmd_bench.tracks.toy.generators import ToyGenerator  # torch: only when the images are sampled

    generator = ToyGenerator(TEACHER_RECIPE)
    if generator.describe()["weights_sha256"] != outputs.weights_sha256:
        raise ValueError(f"the shipped teacher ({generator.describe()['weights_sha256'][:12]}) is not the one the "
                         f"protocol records ({str(outputs.weights_sha256)[:12]})")
    log.info("sampling the toy FID-T reference: %d teacher images (%s)", len(prompts), TEACHER_RECIPE.name)
    for k in range(0, len(prompts), BATCH):
        yield generator.generate(prompts[k:k + BATCH], seeds[k:k + BATCH])
