#!/usr/bin/env bash
# FD-DINOv2 parity: ddmd_bench.metrics.fd_dinov2 against the reference DINOv2 code (PyPI dinov2 0.0.1.dev2) and
# torch-fidelity 0.4.0's DINOv2 extractor, on one random DINOv2 ViT-L/14 (scripts/fd_dinov2_parity.py says how).
# Both references are installed without their dependencies into a folder of their own (they run on the project's
# torch); nothing is downloaded but the two packages.
#
#   bash scripts/fd_dinov2_parity.sh        # writes docs/fd-dinov2-parity.json
#
# Environment: FD_REFS (default /tmp/ddmd-fd-dinov2-refs), PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
REFS=${FD_REFS:-/tmp/ddmd-fd-dinov2-refs}
PY=${PYTHON:-.venv/bin/python}
if ! PYTHONPATH="$REFS" "$PY" -c "import torch_fidelity, dinov2" 2>/dev/null; then
    "$PY" -m pip install --quiet --no-deps --target "$REFS" torch-fidelity==0.4.0 dinov2==0.0.1.dev2
fi
HF_HUB_OFFLINE=1 XFORMERS_DISABLED=1 PYTHONPATH="$REFS" "$PY" scripts/fd_dinov2_parity.py "$@"
