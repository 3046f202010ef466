"""What a result records about where it was measured: packages, device, harness commit."""

from __future__ import annotations

import importlib.metadata
import platform
from functools import lru_cache
from typing import Any

import torch

from ddmd_bench import __version__
from ddmd_bench.tracks.toy.shipped import git_commit
from ddmd_bench.utils import threads

PACKAGES = ("torch", "diffusers", "transformers", "open_clip_torch", "clean-fid", "torchmetrics", "numpy", "scipy",
            "safetensors")


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: torch.device) -> dict[str, Any]:
    """Hardware the numbers came from (latency is only comparable within one hardware group)."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {"type": "cuda", "name": props.name, "memory_bytes": props.total_memory,
                "cuda": torch.version.cuda, "driver": _nvidia_driver()}
    return {"type": "cpu", "name": _cpu_name(), "threads": torch.get_num_threads()}


def _nvidia_driver() -> str:
    import subprocess

    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def environment() -> dict[str, Any]:
    """Package versions, Python, platform, harness version/commit and the CPU threads chosen for this process."""
    return {**_static_environment(), "threads": threads.current()}


@lru_cache(maxsize=1)
def _static_environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "harness": {"version": __version__, "commit": git_commit()}}
