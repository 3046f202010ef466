"""The toy world's tokenizer and text encoder, built from configs (no download).

The tokenizer is a transformers `BertTokenizer` over a word-level vocabulary shipped with the package
(`assets/vocab.txt`); the encoder is a small transformers `CLIPTextModel` trained from scratch with the teacher.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib import resources

import torch

MAX_TOKENS = 16


def vocab_path() -> str:
    """Path of the shipped word-level vocabulary."""
    return str(resources.files("ddmd_bench.tracks.toy") / "assets" / "vocab.txt")


def build_tokenizer():
    """The toy tokenizer: lower-cased word pieces over the grammar's words."""
    from transformers import BertTokenizer  # heavy backend, imported when a tokenizer is built

    words = vocab_path()
    # Positional on purpose: transformers 4.x names this argument `vocab_file`, 5.x names it `vocab` and silently
    # ignores `vocab_file=` (every word would become [UNK]). The size check below catches any such drift.
    tokenizer = BertTokenizer(words, do_lower_case=True, model_max_length=MAX_TOKENS)
    expected = sum(1 for line in open(words, encoding="utf-8") if line.strip())
    if len(tokenizer.get_vocab()) != expected:
        raise RuntimeError(f"toy tokenizer loaded {len(tokenizer.get_vocab())} tokens from {words}, expected "
                           f"{expected}; this transformers version reads the vocabulary differently")
    return tokenizer


@dataclass(frozen=True, slots=True)
class TextEncoderConfig:
    """Size of the toy text encoder (a transformers CLIPTextModel)."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4


def build_text_encoder(config: TextEncoderConfig, tokenizer) -> torch.nn.Module:
    """A randomly initialised CLIPTextModel whose pooled output is taken at the [SEP] token."""
    from transformers import CLIPTextConfig, CLIPTextModel  # heavy backend, imported when the encoder is built

    cfg = CLIPTextConfig(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=MAX_TOKENS,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,  # != 2, so CLIP pools at the first [SEP] (not the legacy argmax rule)
        **asdict(config),
    )
    return CLIPTextModel(cfg)


def tokenize(tokenizer, prompts: list[str]) -> torch.Tensor:
    """Token ids [N, MAX_TOKENS], padded and truncated; unknown words map to [UNK] (never an error)."""
    out = tokenizer(prompts, padding="max_length", truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    return out["input_ids"]


def encode(text_encoder: torch.nn.Module, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-token hidden states [N, T, D], pooled embedding [N, D])."""
    out = text_encoder(input_ids=input_ids)
    return out.last_hidden_state, out.pooler_output
