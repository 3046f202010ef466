#!/usr/bin/env bash
# The project's one prepared GPU check: set up .venv (as `make install` does), then run benchmarks/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
make install >/dev/null
.venv/bin/python benchmarks/gpu_check.py
