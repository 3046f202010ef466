"""The files of a local diffusers pipeline folder (what its identity hashes); loading one is
`ddmd_bench.generators.pipelines.load_pipeline`, after its checks."""

from __future__ import annotations

import json
from pathlib import Path

from ddmd_bench.hashing import folder_files


def component_folders(path: str | Path) -> list[str]:
    """The component folders a pipeline loads (those model_index.json names with a class, present on disk)."""
    path = Path(path)
    index = json.loads((path / "model_index.json").read_text())
    return sorted(k for k, v in index.items()
                  if isinstance(v, list) and v and v[0] is not None and (path / k).is_dir())


def pipeline_files(path: str | Path) -> list[Path]:
    """Every file that loading the pipeline folder can read: model_index.json, our export's ddmd_bench.json and each
    component folder's weights, configs and tokenizer files (weight files of other variants included: hashing a
    file that is not loaded costs time once, missing one that is would let changed weights pass as unchanged)."""
    path = Path(path)
    top = [p for p in (path / "model_index.json", path / "ddmd_bench.json") if p.is_file()]
    return sorted({*top, *folder_files(path, component_folders(path))})
