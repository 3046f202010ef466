"""The metric registry: each kind of metric with its direction, version and implementation id, and the spec
(identity) it records in protocols and results.

Metric classes take their name, direction and version from their entry here, and every spec (the runtime one in a
result, and the declared one in a protocol) is assembled by the entry's `spec`, so the implementation id, the FID
square-root descriptions and the CLIP formula are written once. Torch-free: the leaderboard reads directions here
without importing a metric backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ddmd_bench.registry import Registry


@dataclass(frozen=True, slots=True)
class Precision:
    """How many digits a table prints of a metric: `digits` decimals, or `digits` significant digits for a metric
    whose values span orders of magnitude (CMMD, KID). A table widens it to the digits its reported numbers carry,
    so a published number shows as its source printed it (`leaderboard.table`)."""

    digits: int
    significant: bool = False


@dataclass(frozen=True, slots=True)
class MetricKind:
    """One kind of metric: the names protocols give it, whether higher is better, its version and implementation."""

    name: str
    higher_is_better: bool
    version: str
    implementation: str | None  # None: the protocol names it (prompt accuracy's classifier)
    names: tuple[str, ...]  # every metric name under which protocols record this kind
    precision: Precision = Precision(2)  # what a table prints of a measured value

    def spec(self, **fields: Any) -> dict[str, Any]:
        """A spec of this kind: its implementation id plus `fields` (a protocol's declared identity, or a built
        metric's full one). Fields may not restate the implementation of a kind that has one."""
        if self.implementation is None:
            return dict(fields)
        if "implementation" in fields:
            raise ValueError(f"metric {self.name}: the implementation is {self.implementation!r}, not a field")
        return {"implementation": self.implementation, **fields}


@dataclass(frozen=True, slots=True)
class SqrtMethod:
    """How FID's tr sqrt(s1 s2) is computed (see functional.CovarianceFactor); both are exact in float64."""

    name: str
    description: str  # recorded in every result's spec, and in the literature protocols

    @property
    def brief(self) -> str:
        """The short label the toy protocol records (its fingerprint keys the committed toy leaderboards)."""
        return f"{self.name}, float64"


FID = MetricKind("fid", higher_is_better=False, version="1", implementation="ddmd_bench.metrics.fid/v1",
                 names=("fid", "patch_fid"))
CLIP_SCORE = MetricKind("clip_score", higher_is_better=True, version="1", implementation="open_clip",
                        names=("clip_score",))
IMAGE_REWARD = MetricKind("image_reward", higher_is_better=True, version="1",
                          implementation="ddmd_bench.metrics.image_reward (transformers BLIP modules)",
                          names=("image_reward",))
PROMPT_ACCURACY = MetricKind("prompt_accuracy", higher_is_better=True, version="1", implementation=None,
                             names=("prompt_accuracy", "prompt_accuracy_heldout"), precision=Precision(3))
CMMD = MetricKind("cmmd", higher_is_better=False, version="1", implementation="ddmd_bench.metrics.cmmd/v1",
                  names=("cmmd",), precision=Precision(4, significant=True))
KID = MetricKind("kid", higher_is_better=False, version="1", implementation="ddmd_bench.metrics.kid/v1",
                 names=("kid",), precision=Precision(4, significant=True))
PRECISION = MetricKind("precision", higher_is_better=True, version="1",
                       implementation="ddmd_bench.metrics.precision_recall/v1", names=("precision",),
                       precision=Precision(3))
RECALL = MetricKind("recall", higher_is_better=True, version="1",
                    implementation="ddmd_bench.metrics.precision_recall/v1", names=("recall",), precision=Precision(3))
# FID against the teacher's own images for the same prompts and seeds (SenseFlow's FID-T, and its patch variant)
FID_T = MetricKind("fid_t", higher_is_better=False, version="1", implementation="ddmd_bench.metrics.fid_teacher/v1",
                   names=("fid_t", "patch_fid_t"))
# HPSv2 (v2.0) and HPSv2.1 differ only in the checkpoint: one kind, the version in the metric's name and spec
HPS = MetricKind("hps", higher_is_better=True, version="1", implementation="ddmd_bench.metrics.hps/v1 (open_clip)",
                 names=("hpsv21", "hpsv2"))
PICKSCORE = MetricKind("pickscore", higher_is_better=True, version="1",
                       implementation="ddmd_bench.metrics.pickscore/v1 (transformers CLIPModel)", names=("pickscore",))
FD_DINOV2 = MetricKind("fd_dinov2", higher_is_better=False, version="1",
                       implementation="ddmd_bench.metrics.fd_dinov2/v1 (transformers Dinov2Model)",
                       names=("fd_dinov2",))

# metric name (as protocols and results use it) -> its kind
METRICS: Registry[MetricKind] = Registry("metric")
for _kind in (FID, CLIP_SCORE, IMAGE_REWARD, PROMPT_ACCURACY, CMMD, KID, PRECISION, RECALL, FID_T, HPS, PICKSCORE,
              FD_DINOV2):
    for _name in _kind.names:
        METRICS.add(_name, _kind)

# "eigh" is kept for protocols whose committed records were measured with it; "cholesky" is FID's default.
SQRT_METHODS: Registry[SqrtMethod] = Registry("FID sqrt method")
for _method in (
    SqrtMethod("cholesky", "eigvalsh(L^T s2 L), s1 = L L^T (eigh(sqrt(s1) s2 sqrt(s1)) where s1 is singular), "
                           "float64"),
    SqrtMethod("eigh", "eigh(sqrt(s1) s2 sqrt(s1)), float64"),
):
    SQRT_METHODS.add(_method.name, _method)


def sqrt_method(label: str) -> SqrtMethod:
    """The method a spec names, by its name, description or brief label (so a metric can be built from what a
    protocol declares)."""
    for name in SQRT_METHODS:
        method = SQRT_METHODS.get(name)
        if label in (method.name, method.description, method.brief):
            return method
    return SQRT_METHODS.get(label)  # UnknownNameError naming the methods


CLIP_FORMULA = "scale * cos(image, prefix + prompt)"
CMMD_ESTIMATOR = "biased MMD^2 (Gretton et al. 2012, eq. 5): all pairs, diagonals included"
KID_KERNEL = "(x.y / d + 1)^3"
HPS_FORMULA = "scale * cos(image, prompt), open_clip ViT-H-14 with the HPS checkpoint"
PICKSCORE_FORMULA = "logit_scale.exp() * cos(image, prompt)"
FID_IMAGE_FORMAT = "in-memory uint8"  # FID features come from the generated tensors, never from re-encoded files


def direction(name: str, default: bool | None = None) -> bool:
    """Whether a higher value of metric `name` is better. For a name this registry does not know (e.g. a paper's
    own score): `default`, or UnknownNameError with close names when no default is given."""
    if default is not None and name not in METRICS:
        return default
    return METRICS.get(name).higher_is_better


def display_precision(name: str) -> Precision | None:
    """What a table prints of metric `name` (None for a name this registry does not know, e.g. a paper's own
    score)."""
    return METRICS.get(name).precision if name in METRICS else None


def recorded_direction(name: str, result: Mapping[str, Any], default: bool = True) -> bool:
    """Direction of metric `name` in a result record's metric entry: the recorded `higher_is_better` where present,
    else the registry's, else `default` for a metric this registry does not know."""
    if result.get("higher_is_better") is not None:
        return bool(result["higher_is_better"])
    return direction(name, default)
