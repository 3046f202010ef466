"""Contract cases for FID-T: the toy protocol's own FID-T (the classifier's features against the shipped teacher's
50-step guided images of the contract prompts, sampled and cached by the toy track), and a patch FID-T on a tiny
random Inception stand-in with clean-fid's patch preprocessing. Same shape as `cases.METRICS`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tests import factories


def _toy_fid_t():
    from ddmd_bench.tracks.toy.track import METRIC_BUILDERS
    from tests.contracts.cases import toy_protocol

    protocol, context = toy_protocol()
    return METRIC_BUILDERS.get("fid_t")(context, protocol)


def _tiny_patch_fid_t():
    from ddmd_bench.metrics.fid import reference_stats
    from ddmd_bench.metrics.fid_teacher import TeacherFID
    from ddmd_bench.metrics.inception import PatchFIDFeatures
    from ddmd_bench.metrics.teacher_outputs import TeacherOutputs

    extractor = PatchFIDFeatures(network=factories.TinyExtractor(), network_id="tiny-extractor")
    extractor.dim = 16  # the stand-in's width, not Inception's 2048
    teacher = TeacherOutputs("random-noise teacher", None, {"steps": 1}, {"name": "noise", "n": 24, "sha256": None},
                             "seed_i = 5")
    reference = reference_stats(extractor, [factories.random_images(24, 304, seed=5)], "random-noise-teacher")
    return TeacherFID(extractor, reference, teacher, name="patch_fid_t", bootstrap=20)


METRICS: dict[str, tuple[str, Callable[[], Any], int]] = {
    "toy-fid_t": ("fid_t", _toy_fid_t, 16),
    "tiny-patch-fid_t": ("patch_fid_t", functools.partial(_tiny_patch_fid_t), 304),
}
