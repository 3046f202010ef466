"""Loading local diffusers pipeline directories safely (safetensors only, no remote code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_pipeline(path: str | Path, **kwargs: Any):
    """`DiffusionPipeline.from_pretrained` on a local folder, passing None for components saved as null
    (for example SD3 without T5), which diffusers otherwise refuses to load."""
    from diffusers import DiffusionPipeline

    path = Path(path)
    index = path / "model_index.json"
    if not index.exists():
        raise FileNotFoundError(f"{path} is not a diffusers pipeline directory (no model_index.json)")
    nulls = {k: None for k, v in json.loads(index.read_text()).items()
             if isinstance(v, list) and v == [None, None]}
    return DiffusionPipeline.from_pretrained(str(path), use_safetensors=True, **{**nulls, **kwargs})


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
    from ddmd_bench.hashing import folder_files

    path = Path(path)
    top = [p for p in (path / "model_index.json", path / "ddmd_bench.json") if p.is_file()]
    return sorted({*top, *folder_files(path, component_folders(path))})
