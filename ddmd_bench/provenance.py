"""What a result or a shipped file records about where it came from: packages, device, harness version and commit."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ddmd_bench import __version__
from ddmd_bench.utils import threads

if TYPE_CHECKING:
    import torch

PACKAGES = ("torch", "diffusers", "transformers", "open_clip_torch", "clean-fid", "torchmetrics", "numpy", "scipy",
            "safetensors")
REPOSITORY = Path(__file__).resolve().parents[1]
# Shipped weights are left out of the dirty check: shipping one model rewrites its track's weights folder, and the
# next model trained in the same batch (the students after the teacher) would otherwise be marked dirty by its
# predecessor's output.
SHIPPED_WEIGHTS = "ddmd_bench/tracks/*/weights/**"


def cpu_name() -> str:
    """The CPU model as the OS names it (platform's guess where /proc/cpuinfo is absent)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: torch.device) -> dict[str, Any]:
    """Hardware the numbers came from (latency is only comparable within one hardware group)."""
    import torch  # heavy: only a run asks for its device, listings and records readers do not

    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {"type": "cuda", "name": props.name, "memory_bytes": props.total_memory,
                "cuda": torch.version.cuda, "driver": _nvidia_driver()}
    return {"type": "cpu", "name": cpu_name(), "threads": torch.get_num_threads()}


def _nvidia_driver() -> str:
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def git_commit(root: Path | None = None) -> str:
    """Current commit of the repository (with '+dirty' if tracked code differs), or 'unknown'."""
    root = root or REPOSITORY
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", ".",
                                f":(exclude,glob){SHIPPED_WEIGHTS}"], capture_output=True, text=True,
                               check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
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
