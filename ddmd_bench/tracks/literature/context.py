"""The run-time side of a literature protocol: its prompts, verified data files, and `build_metrics`.

`build_metrics` is the first place real weights are needed (Inception, OpenCLIP). Every weight file is resolved
before any is loaded, so a machine missing several files learns about all of them at once, from the resolver's own
messages (where it looked, and the command or variable that provides each file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddmd_bench import resolver
from ddmd_bench.metrics.teacher_outputs import TeacherOutputs
from ddmd_bench.tracks.literature.datafiles import VerifiedFile
from ddmd_bench.tracks.literature.reference_stats import ReferenceInfo, build_extractor
from ddmd_bench.tracks.literature.scores import SCORES
from ddmd_bench.tracks.literature.specs import LiteratureSpec
from ddmd_bench.prompts import PromptSet

INCEPTION = "inception-fid"  # resolver.WEIGHTS name shared by every Inception-based extractor


def resolve_all(names: Iterable[str]) -> dict[str, Path]:
    """Resolve every named weight file; if any is missing, one `WeightsNotFound` carrying each resolver message and
    the download plan of the missing hub files (one `hf download` command per repository)."""
    names = list(names)
    found: dict[str, Path] = {}
    missing: list[resolver.WeightsNotFound] = []
    for name in names:
        try:
            found[name] = resolver.resolve(resolver.WEIGHTS.get(name))
        except resolver.WeightsNotFound as exc:
            missing.append(exc)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        plan = resolver.download_plan(resolver.weights_needs(n for n in names if n not in found))
        raise resolver.WeightsNotFound(f"{len(missing)} weight files are missing:\n" +
                                       "\n".join(f"- {exc}" for exc in missing) +
                                       ("" if plan.complete else "\nDownload plan:\n" + plan.report()))
    return found


def weight_names(spec: LiteratureSpec) -> list[str]:
    """resolver.WEIGHTS entries the metrics of `spec` load."""
    from ddmd_bench.metrics.clip_presets import PRESETS  # open_clip and torch: not needed to build a protocol

    scores = [w for name, _ in spec.scores for w in SCORES.get(name).weights]
    return [INCEPTION, PRESETS.get(spec.clip_preset).weights, *scores]


def needs_report(spec: LiteratureSpec) -> str:
    """Every data file `spec` reads and every weight file its metrics load (with the download plan of the hub files
    missing from the HF cache, checked offline): what a run of the protocol needs, in one message."""
    lines = [f"protocol {spec.name} reads these data files (--data KEY=PATH):"]
    lines += [f"- {f.key} ({f.filename}): {f.what}; source: {f.source}" for f in spec.data_files]
    names = weight_names(spec)
    lines.append("and its metrics load these weight files (resolver entries, `ddmd-bench doctor` shows them):")
    for name in names:
        w = resolver.WEIGHTS.get(name)
        lines.append(f"- {name}: {w.repo_id or w.url} {w.filename} ({w.used_for})")
    plan = resolver.download_plan(resolver.weights_needs(names))
    if not plan.complete:
        lines.append(plan.report())
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class LiteratureContext:
    """What the runner needs besides the protocol: prompts (with their selection), data files, metric builders."""

    spec: LiteratureSpec
    prompt_set: PromptSet
    data: dict[str, VerifiedFile]
    references: dict[str, ReferenceInfo]  # FID metric name -> its checked reference statistics

    def weight_names(self) -> list[str]:
        """resolver.WEIGHTS entries the metrics load."""
        return weight_names(self.spec)

    def build_metrics(self, protocol) -> dict[str, Any]:
        """Fresh FID (or FID-T), CLIP-score and score metrics for a run of `protocol` (loads real weights)."""
        # torch, open_clip, torchmetrics: loaded for a run only, so building or listing protocols stays light
        from ddmd_bench.metrics import reference
        from ddmd_bench.metrics.clip_presets import PRESETS, build_clip_score
        from ddmd_bench.metrics.fid import FID
        from ddmd_bench.metrics.fid_teacher import TeacherFID

        paths = resolve_all(self.weight_names())
        metrics: dict[str, Any] = {}
        for fid in self.spec.fids:
            ref = self.references[fid.metric]
            stats, _ = reference.load(ref.path)
            extractor = build_extractor(fid, paths[INCEPTION])
            # the protocol's fingerprint names this method (build.SQRT_METHOD); another needs a new protocol version
            if fid.teacher is None:
                metrics[fid.metric] = FID(extractor, stats, sqrt_method="eigh")
            else:  # the teacher identity was checked against the protocol's prompts and seeds when it was built
                teacher = TeacherOutputs.from_dict(ref.identity["teacher"], f"{ref.path}: teacher identity")
                metrics[fid.metric] = TeacherFID(extractor, stats, teacher, name=fid.metric, sqrt_method="eigh")
        preset = PRESETS.get(self.spec.clip_preset)
        metrics["clip_score"] = build_clip_score(preset, weights=paths[preset.weights])
        for name, scale in self.spec.scores:  # their files were resolved above, with the rest
            metrics[name] = SCORES.get(name).build(scale)
        return metrics

    def selection(self) -> tuple[dict[str, Any], ...]:
        """Per-prompt provenance (COCO image and annotation ids) where the source has it; empty otherwise."""
        return self.prompt_set.meta

    def data_record(self) -> dict[str, dict[str, str]]:
        """Data files used, for the result record: key -> {path, sha256, verified against a known hash or not}."""
        return {key: f.to_record() for key, f in self.data.items()}
