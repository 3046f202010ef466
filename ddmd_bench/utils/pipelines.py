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
