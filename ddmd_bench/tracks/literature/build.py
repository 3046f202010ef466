"""Build a literature protocol from its spec and the user's data files: verify, load prompts, assemble the Protocol.

Order matters: every data file is checked (known keys, existence, known sha256, reference-statistics identity)
before the prompts are parsed, and nothing here loads a model, so a wrong file fails in seconds, not after hours of
generation. The Protocol records what makes results comparable: the prompt set's sha256 (and, for a seeded COCO
sample, the seed and the sha256 of the chosen annotation ids), the resolution, the seed rule, each metric's exact
definition and the reference statistics' id, size and sha256.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.prompts import FORMATS, PromptSet, check_prompt_set
from ddmd_bench.protocol import Protocol
from ddmd_bench.tracks.literature import datafiles
from ddmd_bench.tracks.literature.context import LiteratureContext
from ddmd_bench.tracks.literature.reference_stats import ReferenceInfo, check_reference, check_teacher_prompts
from ddmd_bench.tracks.literature.scores import SCORES
from ddmd_bench.tracks.literature.specs import FidSpec, LiteratureSpec, PromptSource

log = logging.getLogger(__name__)

# A catalog.SQRT_METHODS name, recorded by its full description; context.build_metrics builds every FID with it.
SQRT_METHOD = "eigh"


class PromptCountMismatch(datafiles.DataFileError):
    """A prompt file does not hold the number of prompts the protocol is defined on."""


def build(spec: LiteratureSpec, limit: int | None = None,
          data: Mapping[str, str | Path] | None = None) -> tuple[Protocol, LiteratureContext]:
    """(Protocol, context) for `spec` with the user's `data` files; `limit` keeps the first N prompts (and the name
    says so, so a prefix never passes for the full protocol)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    data = dict(data or {})
    datafiles.check_keys(spec.name, spec.data_files, data)
    try:
        captions = datafiles.one_of(spec.name, tuple(s.file for s in spec.prompt_sources), data)
        stats = {f.metric: datafiles.require(spec.name, f.stats, data) for f in spec.fids}
    except datafiles.MissingDataFile as exc:  # say at once everything a run needs (`evaluate --dry-run` shows it)
        from ddmd_bench.tracks.literature.context import needs_report

        raise datafiles.MissingDataFile(f"{exc}\n{needs_report(spec)}") from exc
    source = next(s for s in spec.prompt_sources if s.file.key == captions.spec.key)
    references = {f.metric: check_reference(spec, f, stats[f.metric]) for f in spec.fids}
    prompts = load_prompts(spec, source, captions.path)
    seed_rule = f"seed_i = {spec.seed_base} + i"
    for f in spec.fids:  # a teacher's statistics must be of its images for exactly these prompts and seeds
        if f.teacher is not None:
            check_teacher_prompts(spec, f, references[f.metric], prompts.ref(), seed_rule)
    if limit is not None:
        prompts = prompts.head(limit)
    full = limit is None or limit >= spec.n_prompts
    name = spec.name + source.name_suffix + ("" if full else f"-n{len(prompts.prompts)}")
    check_prompt_set(prompts, f"protocol {name} ({captions.path})")
    protocol = Protocol(
        name=name, version=spec.version, track="literature", prompt_set=prompt_set_record(prompts, source),
        images_per_prompt=1, resolution=spec.resolution, seed_rule=seed_rule,
        seed_base=spec.seed_base, metrics=metric_specs(spec, references, gated=full),
        latency={**asdict(spec.latency), "device": "cuda"}, description=spec.description)
    log.info("protocol %s v%d (%s): %d prompts from %s", name, spec.version, protocol.fingerprint[:12],
             len(prompts.prompts), captions.path)
    data_used = {captions.spec.key: captions, **{f.stats.key: stats[f.metric] for f in spec.fids}}
    return protocol, LiteratureContext(spec, prompts, data_used, references)


def load_prompts(spec: LiteratureSpec, source: PromptSource, path: Path) -> PromptSet:
    """The full prompt set from `path` (a seeded sample of `spec.n_prompts` images for COCO annotations)."""
    options: dict[str, Any] = {}
    if source.sample_seed is not None:
        options = {"n": spec.n_prompts, "seed": source.sample_seed}
    prompts = FORMATS.get(source.fmt)(path, name=source.set_name, version=1, **options)
    if len(prompts.prompts) != spec.n_prompts:
        raise PromptCountMismatch(
            f"protocol {spec.name}: data file {source.file.key!r} = {path} holds {len(prompts.prompts)} prompts, "
            f"expected {spec.n_prompts}. Expected: {source.file.what}; source: {source.file.source}.")
    return prompts


def prompt_set_record(prompts: PromptSet, source: PromptSource) -> dict[str, Any]:
    """The protocol's prompt-set entry: name, version, n, sha256, source, and the seeded selection if any."""
    record = {**prompts.ref(), "source": source.label}
    if source.sample_seed is not None:
        ids = "\n".join(str(m["annotation_id"]) for m in prompts.meta) + "\n"
        record["selection"] = {
            "rule": "images sampled without replacement, then one caption per image, both with "
                    "numpy.random.default_rng(seed) (ddmd_bench.prompts.read_coco_captions)",
            "seed": source.sample_seed,
            "annotation_ids_sha256": hashlib.sha256(ids.encode()).hexdigest(),
        }
    return record


def metric_specs(spec: LiteratureSpec, references: dict[str, ReferenceInfo],
                 gated: bool = True) -> dict[str, dict[str, Any]]:
    """Metric identities from the spec alone (no weights are loaded: the weights' sha256 is recorded per result).
    A gate's ranges are recorded only when `gated` (the full prompt set: the ranges hold at the protocol's n)."""
    specs = {f.metric: fid_spec(f, references[f.metric]) for f in spec.fids}
    specs["clip_score"] = clip_spec(spec.clip_preset)
    for name, scale in spec.scores:
        specs[name] = SCORES.get(name).declared(scale)
    if spec.gate is not None and gated:
        for r in spec.gate.ranges:
            specs[r.metric]["gate"] = {"name": spec.gate.name, "low": r.low, "high": r.high, "inclusive": True}
    return specs


def fid_spec(fid: FidSpec, ref: ReferenceInfo) -> dict[str, Any]:
    """One FID's identity: extractor and its preprocessing, evaluation transform, reference statistics."""
    from ddmd_bench.metrics.transforms import EVAL_TRANSFORMS  # torch: describing a protocol must not import it

    fields = dict(
        extractor=fid.extractor,
        weights="inception-2015-12-05.pt (resolver entry inception-fid; sha256 recorded per result)",
        eval_transform=fid.eval_transform, eval_preprocessing=EVAL_TRANSFORMS.get(fid.eval_transform).description,
        reference={"id": fid.reference_id, "n": ref.n, "stats_sha256": ref.stats_sha256},
        sqrt_method=catalog.SQRT_METHODS.get(SQRT_METHOD).description, image_format=catalog.FID_IMAGE_FORMAT)
    if fid.teacher is None:
        return catalog.FID.spec(**fields)
    return catalog.FID_T.spec(**fields, teacher=ref.identity["teacher"])  # FID-T: which images, made how


def clip_spec(preset_name: str) -> dict[str, Any]:
    """A CLIP-score preset's identity (model, weights entry and repository, formula, prefix, preprocessing)."""
    from ddmd_bench.metrics.clip_presets import PRESETS  # torch: describing a protocol must not import it

    preset = PRESETS.get(preset_name)
    weights = resolver.WEIGHTS.get(preset.weights)
    return catalog.CLIP_SCORE.spec(
        preset=preset.name, model=preset.model_name, weights=preset.weights,
        weights_repo=weights.repo_id or weights.url, formula=catalog.CLIP_FORMULA, scale=preset.scale,
        prefix=preset.prefix, clamp_mean_at_zero=preset.clamp_mean_at_zero, pre_resize=preset.pre_resize)
