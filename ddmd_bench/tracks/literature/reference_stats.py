"""Reference statistics for literature protocols: made with the protocol's identity, refused when made for another.

FID is only comparable against the same reference set, extractor and preprocessing (docs/protocols.md: the resize
filter alone moves FID by whole points). A statistics file therefore carries an identity (reference set id,
extractor, evaluation transform, protocol and metric it was made for), covered by the file's own sha256, and a
protocol refuses a file whose identity or image count differs, when the protocol is built, before any model is
loaded or any image generated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ddmd_bench.metrics.teacher_outputs import TeacherOutputs
from ddmd_bench.tracks.literature.datafiles import DataFileError, VerifiedFile
from ddmd_bench.tracks.literature.specs import SPECS, FidSpec, LiteratureSpec

log = logging.getLogger(__name__)

IDENTITY_KIND = "ddmd-bench-reference/v1"
# What must match. "protocol" and "metric" are recorded to explain a refusal: two protocols may share a reference.
COMPARED = ("kind", "reference_id", "extractor", "eval_transform")


class ReferenceStatsMismatch(DataFileError):
    """Reference statistics were made for another protocol, reference set, extractor or preprocessing."""


@dataclass(frozen=True, slots=True)
class ReferenceInfo:
    """A reference-statistics file that matched its protocol (what the protocol and the metrics need of it)."""

    path: Path
    stats_sha256: str  # the file's embedded content hash
    n: int
    extractor_id: str
    identity: dict[str, Any]


def expected_identity(spec: LiteratureSpec, fid: FidSpec) -> dict[str, Any]:
    """The identity a statistics file made for (`spec`, `fid`) carries."""
    return {"kind": IDENTITY_KIND, "protocol": spec.name, "metric": fid.metric, "reference_id": fid.reference_id,
            "extractor": fid.extractor, "eval_transform": fid.eval_transform}


def check_reference(spec: LiteratureSpec, fid: FidSpec, file: VerifiedFile) -> ReferenceInfo:
    """Load the file's metadata (no model involved) and compare it with what the protocol needs."""
    from ddmd_bench.metrics import reference  # torch: listing and describing protocols stay torch-free

    where = f"protocol {spec.name}: reference statistics {fid.stats.key!r} = {file.path}"
    try:
        stats, meta = reference.load(file.path)
    except ValueError as exc:
        raise ReferenceStatsMismatch(f"{where}: {exc}. To provide it: {fid.stats.how_to_provide()}.") from exc
    problem = shape_problem(fid.extractor, stats.mu, stats.sigma)
    if problem:
        raise ReferenceStatsMismatch(f"{where}: {problem}. To provide it: {fid.stats.how_to_provide()}.")
    identity = meta.get("identity")
    if not isinstance(identity, dict):
        raise ReferenceStatsMismatch(
            f"{where} carry no protocol identity (made by a plain `stats make` with extractor "
            f"{meta['extractor_id']!r}), so nothing says they are {fid.reference_id} under this protocol's "
            f"preprocessing. To provide it: {fid.stats.how_to_provide()}.")
    problems = _differences(expected_identity(spec, fid), identity, fid.reference_n, int(meta["n"]))
    if fid.teacher is not None and not problems:
        problems = _teacher_problems(fid.teacher, identity.get("teacher"))
    if problems:
        made_for = f"protocol {identity.get('protocol')!r}, metric {identity.get('metric')!r}"
        raise ReferenceStatsMismatch(f"{where} were made for {made_for}, not for this protocol's {fid.metric!r}: "
                                     f"{'; '.join(problems)}. To provide it: {fid.stats.how_to_provide()}.")
    return ReferenceInfo(file.path, meta["sha256"], int(meta["n"]), meta["extractor_id"], identity)


# Feature dimension of each literature extractor (the `dim` of its class in metrics/inception.py, kept here so that
# checking a statistics file imports no model code; a test holds the two equal).
FEATURE_DIMS = {"inception": 2048, "inception-patch": 2048}


def shape_problem(extractor: str, mu, sigma) -> str | None:
    """What is wrong with the statistics' shapes or values for `extractor` (None: nothing), found without loading
    the extractor."""
    dim = FEATURE_DIMS.get(extractor)
    if dim is not None and (np.shape(mu) != (dim,) or np.shape(sigma) != (dim, dim)):
        return (f"mu has shape {np.shape(mu)} and sigma {np.shape(sigma)}, but the {extractor} extractor gives "
                f"{dim}-dimensional features (expected ({dim},) and ({dim}, {dim}))")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        return "mu or sigma holds NaN or infinite values"
    return None


def _teacher_problems(teacher: str, stored: Any) -> list[str]:
    """What is wrong with a FID-T reference's teacher identity (empty: nothing); the prompts and seeds are compared
    once the prompts are loaded (`check_teacher_prompts`)."""
    if not isinstance(stored, dict):
        return ["they carry no teacher identity (which model, sampling recipe, prompts and seeds made the images)"]
    try:
        identity = TeacherOutputs.from_dict(stored)
    except ValueError as exc:
        return [str(exc)]
    return [] if identity.teacher == teacher else [f"teacher is {identity.teacher!r}, expected {teacher!r}"]


def check_teacher_prompts(spec: LiteratureSpec, fid: FidSpec, info: ReferenceInfo, prompt_set: dict[str, Any],
                          seed_rule: str) -> None:
    """A FID-T reference must be of the teacher's images for exactly these prompts (sha256 and count) and seeds."""
    stored = info.identity["teacher"]
    theirs = stored["prompt_set"] if isinstance(stored["prompt_set"], dict) else {}
    problems = [f"its prompt set's {k} is {theirs.get(k)!r}, the protocol's is {prompt_set[k]!r}"
                for k in ("sha256", "n") if theirs.get(k) != prompt_set[k]]
    if stored["seed_rule"] != seed_rule:
        problems.append(f"its seed rule is {stored['seed_rule']!r}, the protocol's is {seed_rule!r}")
    if problems:
        raise ReferenceStatsMismatch(
            f"protocol {spec.name}: teacher statistics {fid.stats.key!r} = {info.path} are of other images than "
            f"{fid.teacher}'s for this protocol's prompts and seeds: {'; '.join(problems)}. To provide it: "
            f"{fid.stats.how_to_provide()}.")


def _differences(want: dict[str, Any], have: dict[str, Any], want_n: int | None, have_n: int) -> list[str]:
    out = [f"{key} is {have.get(key)!r}, expected {want[key]!r}" for key in COMPARED if have.get(key) != want[key]]
    if want_n is not None and have_n != want_n:
        out.append(f"n is {have_n} images, expected {want_n} (FID depends on the reference set's size)")
    return out


def build_extractor(fid: FidSpec, weights: str | Path | None = None):
    """The protocol's feature extractor for `fid` (this loads the extractor's weights through the resolver)."""
    # torch and the extractors: only a run or `stats make` builds one
    from ddmd_bench.metrics.reference import EXTRACTORS
    from ddmd_bench.metrics.transforms import EVAL_TRANSFORMS, TransformedFeatures

    return TransformedFeatures(EXTRACTORS.get(fid.extractor)(weights=weights), EVAL_TRANSFORMS.get(fid.eval_transform))


def make_reference_stats(protocol: str, metric: str, images: str | Path, out: str | Path,
                         weights: str | Path | None = None, batch_size: int = 64, teacher=None) -> dict[str, Any]:
    """Compute the reference statistics `protocol`'s `metric` needs from a folder or zip of real images, or, for a
    FID-T, of the teacher's images (`teacher`: the `metrics.teacher_outputs.TeacherOutputs` that made them).

    The protocol's evaluation transform is applied to every image first (e.g. centre crop + LANCZOS 256), exactly as
    to generated images; the file records the protocol's identity. Returns the file's info (`stats info`).
    """
    from ddmd_bench.metrics import reference  # torch: only `stats make` computes statistics

    spec = SPECS.get(protocol)
    fid = spec.fid(metric)
    identity = expected_identity(spec, fid)
    if fid.teacher is not None:
        if teacher is None or teacher.teacher != fid.teacher:
            raise ValueError(f"protocol {protocol}, metric {metric}: the statistics are of {fid.teacher}'s images, so "
                             f"pass teacher=TeacherOutputs({fid.teacher!r}, weights sha256, recipe, prompt set, seed "
                             f"rule) describing how they were made (got {teacher!r})")
        identity["teacher"] = teacher.to_dict()
    elif teacher is not None:
        raise ValueError(f"protocol {protocol}, metric {metric} is measured against real images, not a teacher's")
    info = reference.make(images, build_extractor(fid, weights), out, batch_size, set_id=fid.reference_id,
                          identity=identity)
    if fid.reference_n is not None and info["n"] != fid.reference_n:
        log.warning("%s holds %d images but protocol %s needs %d for %s: the file will be refused",
                    out, info["n"], protocol, fid.reference_n, fid.reference_id)
    return info
