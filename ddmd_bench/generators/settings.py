"""Practical run options for diffusers recipes. None of them may change what a recipe means; all are recorded."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch

Offload = Literal["none", "model", "sequential"]
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How to run a recipe on this machine."""

    device: str | None = None  # None: cuda when available, else cpu
    dtype: str | None = None  # None: the recipe's dtype on a GPU, float32 on CPU (half-precision CPU kernels are slow)
    offload: Offload = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    attention_backend: str | None = None  # diffusers attention dispatcher name, e.g. "flash" or "_native_cudnn"
    compile: bool = False
    allow_pickle: bool = False
    allow_download: bool = True  # still refused when HF_HUB_OFFLINE=1

    def resolved_device(self) -> torch.device:
        return torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def resolved_dtype(self, recipe_dtype: str) -> str:
        if self.dtype is not None:
            if self.dtype not in DTYPES:
                raise ValueError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
            return self.dtype
        return recipe_dtype if self.resolved_device().type == "cuda" else "float32"

    def record(self, recipe_dtype: str) -> dict[str, Any]:
        """What a result stores: the options as resolved on this machine."""
        out = dataclasses.asdict(self)
        out.update(device=str(self.resolved_device()), dtype=self.resolved_dtype(recipe_dtype))
        out.pop("allow_download")  # where the files came from is recorded as commits and hashes instead
        return out
