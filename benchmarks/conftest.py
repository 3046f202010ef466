"""Benchmarks run the real shipped toy models; record torch threads with the machine info, and write the
side-by-side ratios with a machine description to benchmarks/summary.json (read by the README's performance
section)."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import torch

from benchmarks.sidebyside import RATIOS
from ddmd_bench.provenance import cpu_name
from ddmd_bench.utils.threads import available_cores

SUMMARY = Path(__file__).with_name("summary.json")


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


LOAD_AT_START = os.getloadavg()  # other jobs on the machine slow both sides of a ratio, not always alike


def machine() -> dict:
    """Where the ratios were measured, and how busy the machine was (1-minute load average at the start and end
    of the run; the cores are the ones this process may use)."""
    return {"cpu": cpu_name(), "cores": available_cores(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_1min": {"start": round(LOAD_AT_START[0], 2), "end": round(os.getloadavg()[0], 2)}}


def pytest_sessionfinish():  # pytest passes only the hook arguments a hook names
    """Merge the ratios of this benchmark run into the summary (a partial run, e.g. `-k frechet`, updates only its
    own; a failed benchmark records no ratio, the others keep theirs)."""
    if not RATIOS:
        return
    old = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    ratios = {**old.get("ratios", {}), **RATIOS}
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    SUMMARY.write_text(json.dumps({"machine": machine(), "measured": stamp, "ratios": dict(sorted(ratios.items()))},
                                  indent=1) + "\n")
