"""What the toy protocol is, in constants that need no model backend: `tracks/toy/track.py` builds the protocol from
them and `tracks/toy/plugins.py` describes it from them for listings (`ddmd-bench prompts list`)."""

from __future__ import annotations

NAME = "toy"
# v3: world v3 (training captions without wrong values), so every shipped model was retrained; v1-v2 entries
# measured models trained on world v1 and stay in their own files.
VERSION = 3
RESOLUTION = 16  # the toy world's image size (tracks/toy/world.py; a test keeps the two equal)
METRICS = ("fid", "clip_score", "image_reward", "prompt_accuracy", "prompt_accuracy_heldout")
DESCRIPTION = "Embedded toy text-to-image world v3, 16x16 RGB; 256 held-in + 64 held-out prompts."
