#!/usr/bin/env bash
# ImageReward parity: the official package (PyPI image-reward 1.5, in an isolated venv with the last working set of
# its dependencies, docs/protocols.md) against ddmd_bench.metrics.image_reward, on one randomly initialised
# official model, random images and prompts. Needs no network beyond the package registry: the bert-base-uncased
# tokenizer both sides use is a synthetic 30,522-token vocabulary in a private HF cache (token ids only need to
# agree between the two sides), and the weights are random.
#
#   bash scripts/image_reward_parity.sh            # prints max |difference|, writes docs/image-reward-parity.json
#                                                  # and the official tensor names and shapes to
#                                                  # tests/fixtures/image_reward_official_state_dict.json
#
# Environment: IR_VENV (default /tmp/ddmd-ir-parity-venv), PYTHON (default python3.11 or python3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${IR_VENV:-/tmp/ddmd-ir-parity-venv}
WORK=$(mktemp -d /tmp/ddmd-ir-parity.XXXXXX)
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
trap '[ -n "${IR_KEEP:-}" ] || rm -rf "$WORK"' EXIT  # IR_KEEP=1 keeps the checkpoint and scores

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import ImageReward" 2>/dev/null; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch==2.14.1 torchvision==0.29.1
    "$VENV/bin/pip" install --quiet transformers==4.55.4 huggingface_hub==0.36.2 diffusers==0.36.0 datasets==4.4.1 \
        timm==1.0.31 fairscale==0.4.13 openai-clip==1.0.1 "setuptools==81.*" ftfy regex accelerate
    "$VENV/bin/pip" install --quiet --no-deps image-reward==1.5
fi

export HF_HOME="$WORK/hf" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$ROOT/.venv/bin/python" "$ROOT/scripts/image_reward_parity.py" prepare "$WORK"
"$VENV/bin/python" "$ROOT/scripts/image_reward_parity.py" official "$WORK"
"$ROOT/.venv/bin/python" "$ROOT/scripts/image_reward_parity.py" keys "$WORK" \
    "$ROOT/tests/fixtures/image_reward_official_state_dict.json"
"$ROOT/.venv/bin/python" "$ROOT/scripts/image_reward_parity.py" compare "$WORK" "$ROOT/docs/image-reward-parity.json"
