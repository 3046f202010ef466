"""FID-T and patch FID-T: FID between a student's images and its teacher's images for the same prompts and seeds.

SenseFlow (Ge et al. 2025) reports FID-T next to FID: what a distilled student should match is its teacher's output
distribution, not the real images. The computation is the protocol's own FID (same extractor, preprocessing and
Fréchet distance, `metrics.fid.FID`); only the reference differs, and a teacher reference is meaningless without
knowing which teacher, sampling recipe, prompts and seeds made it. `TeacherOutputs` is that identity: it is stored
in the reference file (under "teacher" in its identity) and recorded in every result's spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.fid import FID, FeatureExtractor, ReferenceStats
from ddmd_bench.metrics.teacher_outputs import TeacherOutputs


class TeacherFID(FID):
    """FID-T (`name` "fid_t") or patch FID-T ("patch_fid_t"): FID against statistics of the teacher's outputs for
    the protocol's prompts and seeds. Lower is better; 0 means the student's images have the teacher's feature
    statistics."""

    kind = catalog.FID_T
    version, higher_is_better = kind.version, kind.higher_is_better

    def __init__(self, extractor: FeatureExtractor, reference: ReferenceStats, teacher: TeacherOutputs,
                 name: str = "fid_t", bootstrap: int = 0, sqrt_method: str = "cholesky") -> None:
        if name not in self.kind.names:
            raise ValueError(f"a teacher FID is named one of {list(self.kind.names)}, not {name!r}")
        self.name, self.teacher = name, teacher
        super().__init__(extractor, reference, bootstrap, sqrt_method)

    def spec(self) -> dict[str, Any]:
        """The FID's identity (extractor, preprocessing, reference statistics, sqrt method) plus the teacher's."""
        return {**super().spec(), "teacher": self.teacher.to_dict()}


def load_teacher_reference(path: str | Path) -> tuple[ReferenceStats, TeacherOutputs, dict[str, Any]]:
    """(statistics, teacher identity, file metadata) of a reference file made from a teacher's outputs; a file
    without a teacher identity (e.g. statistics of real images) is refused."""
    from ddmd_bench.metrics import reference  # PIL and the Inception wrappers: only when a file is read

    stats, meta = reference.load(path)
    identity = meta.get("identity")
    if not isinstance(identity, dict) or not isinstance(identity.get("teacher"), dict):
        raise ValueError(f"{path}: these statistics carry no teacher identity (which teacher, recipe, prompts and "
                         "seeds made the images), so they cannot serve as a FID-T reference; make them from the "
                         "teacher's images for the protocol's prompts and seeds, saved with the teacher's identity "
                         "(metrics.reference.save(..., identity={'teacher': TeacherOutputs(...).to_dict()}))")
    return stats, TeacherOutputs.from_dict(identity["teacher"], f"{path}: teacher identity"), meta
