"""Benchmarks run the real shipped toy models; record torch threads with the machine info, and write the
side-by-side ratios with a machine description to benchmarks/summary.json (read by the performance table of
docs/development.md, `ddmd-bench report readme`)."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import pytest
import torch

from benchmarks.sidebyside import RATIOS, merge_summary
from ddmd_bench.provenance import cpu_name
from ddmd_bench.utils.threads import available_cores

SUMMARY = Path(__file__).with_name("summary.json")

FAILED: dict[str, str] = {}  # benchmark (node id) -> why it failed, in this run
PASSED: set[str] = set()


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Tag each ratio with the benchmark that measured it, so a later failure of that benchmark removes it."""
    before = dict(RATIOS)
    yield
    for name, ratio in RATIOS.items():
        if before.get(name) is not ratio:
            ratio["test"] = item.nodeid


def pytest_runtest_logreport(report):
    """A benchmark that fails (in set-up, its measurement or its checks) records no ratio, and is listed."""
    if report.failed:
        FAILED[report.nodeid] = (report.longreprtext.strip().splitlines() or ["failed"])[-1][:300]
        for name in [n for n, r in RATIOS.items() if r.get("test") == report.nodeid]:
            del RATIOS[name]
    elif report.when == "call" and report.passed:
        PASSED.add(report.nodeid)


def pytest_sessionfinish():  # pytest passes only the hook arguments a hook names
    """Merge the ratios of this benchmark run into the summary."""
    if not RATIOS and not FAILED:
        return
    old = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    summary = merge_summary(old, stamp, machine(), RATIOS, FAILED, PASSED)
    SUMMARY.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
