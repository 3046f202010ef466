#!/usr/bin/env bash
# Retrain and ship all eight toy students after the toy teacher changed (each resumes if interrupted).
# Usage: bash scripts/retrain_toy_students.sh [THREADS]   (logs: runs/<preset>.json / .err)
set -u
cd "$(dirname "$0")/.."
threads="${1:-2}"
mkdir -p runs
failed=0
for preset in toy-dmd-4step toy-ddmd-full-4step toy-ddmd-constrained-4step toy-ddmd-4step \
              toy-ca-only-4step toy-dm-only-4step toy-dmd-1step toy-ddmd-1step; do
    # The package's own regenerate command (the manifest's hint), e.g. with --ship-last-good for CA-only.
    read -ra cmd <<<"$(.venv/bin/python -c 'import sys; from ddmd_bench.tracks.toy.shipped import regenerate_command as r
print(r(sys.argv[1]))' "${preset#toy-}")"
    if ! .venv/bin/"${cmd[@]}" --threads "$threads" >"runs/$preset.json" 2>"runs/$preset.err"; then
        echo "FAILED $preset (see runs/$preset.err)" >&2
        failed=1
    fi
done
exit "$failed"
