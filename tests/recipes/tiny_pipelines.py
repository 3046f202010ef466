"""Moved to `tests.factories` (kept while other test modules switch their imports)."""

from tests.factories import (  # noqa: F401
    TEXT,
    HubCache,
    chat_tokenizer,
    clip_tokenizer,
    flux,
    sd3,
    sd15,
    sd15_unet,
    sdxl,
    sdxl_unet,
    t5_tokenizer,
    zimage,
)
