"""What the toy protocol is, in constants that need no model backend: `tracks/toy/track.py` builds the protocol from
them and `tracks/toy/plugins.py` describes it from them for listings (`ddmd-bench prompts list`)."""

from __future__ import annotations

NAME = "toy"
# v3: world v3 (training captions without wrong values), so every shipped model was retrained; v1-v2 entries
# measured models trained on world v1 and stay in their own files. v4: the same models and world, with toy CMMD,
# FID to the teacher (FID-T), KID and improved precision / recall added.
VERSION = 4
RESOLUTION = 16  # the toy world's image size (tracks/toy/world.py; a test keeps the two equal)
_V3 = ("fid", "clip_score", "image_reward", "prompt_accuracy", "prompt_accuracy_heldout")
# version -> the metrics it scores, in the order its protocol declares them
VERSIONS = {3: _V3, 4: _V3 + ("fid_t", "cmmd", "kid", "precision", "recall")}
METRICS = VERSIONS[VERSION]
# version -> the leaderboard's default columns (v3 declared none: every metric is shown)
COLUMNS = {3: (), 4: ("fid", "fid_t", "cmmd", "clip_score", "prompt_accuracy", "prompt_accuracy_heldout",
                      "image_reward", "precision", "recall")}


def metrics(version: int) -> tuple[str, ...]:
    """The metrics toy protocol `version` scores; an unknown version is an error naming the buildable ones."""
    if version not in VERSIONS:
        raise ValueError(f"toy protocol version {version} cannot be built; versions: "
                         f"{', '.join(map(str, sorted(VERSIONS)))}")
    return VERSIONS[version]


def columns(version: int) -> tuple[str, ...]:
    """The default leaderboard columns of toy protocol `version`."""
    return COLUMNS[version]
DESCRIPTION = "Embedded toy text-to-image world v3, 16x16 RGB; 256 held-in + 64 held-out prompts."


# The current version's leaderboard file under leaderboards/ (older versions keep their own files).
LEADERBOARD_FILE = f"{NAME}-v{VERSION}.jsonl"
