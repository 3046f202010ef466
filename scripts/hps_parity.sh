#!/usr/bin/env bash
# HPSv2.1 parity: the official hpsv2 package (PyPI 1.2.0) against ddmd_bench.metrics.hps, on one random model
# (scripts/hps_parity.py says how). hpsv2 pins test-only dependencies (pytest 7.2.0, protobuf < 4) that its scoring
# never imports; it is installed without its dependencies into a folder of its own (with clint and args, which it
# imports) and runs on the project's torch and huggingface_hub. The 1.2.0 wheel omits the BPE vocabulary its open_clip
# fork reads (src/open_clip/bpe_simple_vocab_16e6.txt.gz); open_clip's copy of that file is put in its place.
#
#   bash scripts/hps_parity.sh        # writes docs/hps-parity.json
#
# Environment: HPS_REFS (default /tmp/ddmd-hps-refs), PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REFS=${HPS_REFS:-/tmp/ddmd-hps-refs}
PY=${PYTHON:-.venv/bin/python}
WORK=$(mktemp -d /tmp/ddmd-hps-parity.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if ! PYTHONPATH="$REFS" "$PY" -c "import hpsv2.img_score" 2>/dev/null; then
    "$PY" -m pip install --quiet --no-deps --target "$REFS" hpsv2==1.2.0 clint==0.5.1 args==0.1.0
    cp "$("$PY" -c 'import open_clip.tokenizer as t; print(t.default_bpe())')" "$REFS/hpsv2/src/open_clip/"
fi
export HF_HUB_OFFLINE=1 HF_HOME="$WORK/hf" HPS_ROOT="$WORK/hps-root"
"$PY" scripts/hps_parity.py prepare "$WORK"
PYTHONPATH="$REFS" "$PY" scripts/hps_parity.py official "$WORK"
"$PY" scripts/hps_parity.py compare "$WORK" "${1:-$ROOT/docs/hps-parity.json}"
