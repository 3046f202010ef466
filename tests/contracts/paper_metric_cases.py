"""Contract cases for the metrics papers report beside FID (HPSv2.1, HPSv2, PickScore, FD-DINOv2), each loaded
through its real loading code (`build_hps`, `build_pickscore`, `build_dinov2`: the resolver, then open_clip or
transformers) from tiny random backbones in a local HF cache. Same shape as `cases.METRICS`."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.factories import random_images
from tests.metrics import tiny_backbones


@functools.lru_cache(maxsize=1)
def _hub() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ddmd-contract-paper-metrics-"))
    tiny_backbones.hub(root)
    return root


@contextlib.contextmanager
def _in_hub() -> Iterator[None]:
    before = os.environ.get("HF_HUB_CACHE")
    os.environ["HF_HUB_CACHE"] = str(_hub())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HF_HUB_CACHE")
        else:
            os.environ["HF_HUB_CACHE"] = before


def _hps(version: str):
    from ddmd_bench.metrics.hps import build_hps

    folder = _hub() / "hps-files"
    name = {"v2.1": "HPS_v2.1_compressed.pt", "v2.0": "HPS_v2_compressed.pt"}[version]
    tiny_backbones.write_hps(folder, name, seed=6 if version == "v2.0" else 5)
    return build_hps(version, weights=folder / name, model_name=tiny_backbones.hps_model()[3])


def _pickscore():
    from ddmd_bench.metrics.pickscore import build_pickscore

    with _in_hub():
        return build_pickscore(allow_download=False)


def _fd_dinov2():
    from ddmd_bench.metrics.fd_dinov2 import FDDinoV2, build_dinov2
    from ddmd_bench.metrics.fid import reference_stats

    with _in_hub():
        extractor = build_dinov2(allow_download=False)
    reference = reference_stats(extractor, [random_images(16, 24, seed=5)], "random-noise")
    return FDDinoV2(extractor, reference, bootstrap=20)


METRICS: dict[str, tuple[str, Callable[[], Any], int]] = {
    "tiny-hpsv21": ("hpsv21", functools.partial(_hps, "v2.1"), 16),
    "tiny-hpsv2": ("hpsv2", functools.partial(_hps, "v2.0"), 16),
    "tiny-pickscore": ("pickscore", _pickscore, 16),
    "tiny-fd_dinov2": ("fd_dinov2", _fd_dinov2, 16),
}
