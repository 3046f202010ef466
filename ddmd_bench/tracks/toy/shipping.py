"""The guard in front of `--ship`: shipped weights are what the committed leaderboard was measured with, so a new
training run replaces them only when asked to (`--force`)."""

from __future__ import annotations

from pathlib import Path

from ddmd_bench.tracks.toy import shipped


class ShipRefused(ValueError):
    """`--ship` would overwrite a shipped weight file and `--force` was not given."""


def check_can_ship(name: str, force: bool, folder: Path | None = None) -> None:
    """Refuse to ship `name` over an existing shipped file unless `force`; called before training starts (so no
    run is wasted) and again right before the copy."""
    folder = folder or shipped.weights_dir()
    target = folder / f"{name}.safetensors"
    listed = f"{name}.safetensors" in shipped.read_manifest(folder)["files"]
    if (target.exists() or listed) and not force:
        raise ShipRefused(f"--ship would overwrite the shipped weights {target} and their manifest entry (the "
                          f"committed leaderboard was measured with them); add --force to replace them, or evaluate "
                          f"the run without shipping it (export it with `ddmd-bench export RUN_DIR --out DIR`)")
