"""Moved to `tests.factories` (kept while other test modules switch their imports)."""

from tests.factories import clip_tokenizer as write_clip_tokenizer  # noqa: F401
from tests.factories import tiny_flow_bundle, tiny_sd3_pipeline, tiny_sd_pipeline  # noqa: F401
