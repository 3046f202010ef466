"""The toy tokenizer knows every word the world's grammar can produce."""

from __future__ import annotations

from ddmd_bench.tracks.toy import text, world


def test_every_caption_word_is_in_the_vocabulary():
    tokenizer = text.build_tokenizer()
    unk = tokenizer.unk_token_id
    batch = world.make_batch(list(range(500)))
    prompts = batch.captions + [world.canonical_prompt(a) for a in world.all_combinations()]
    ids = text.tokenize(tokenizer, prompts)
    assert not (ids == unk).any(), [p for p, row in zip(prompts, ids) if (row == unk).any()][:3]


def test_prompts_map_to_distinct_token_sequences():
    tokenizer = text.build_tokenizer()
    combos = [world.canonical_prompt(a) for a in world.all_combinations()]
    ids = text.tokenize(tokenizer, combos)
    assert len({tuple(r.tolist()) for r in ids}) == len(combos)
    empty = text.tokenize(tokenizer, [""])[0].tolist()
    assert empty[:2] == [tokenizer.cls_token_id, tokenizer.sep_token_id] and set(empty[2:]) == {tokenizer.pad_token_id}


def test_text_encoder_pools_at_the_separator():
    import torch

    tokenizer = text.build_tokenizer()
    torch.manual_seed(0)
    encoder = text.build_text_encoder(text.TextEncoderConfig(), tokenizer)
    ids = text.tokenize(tokenizer, ["a small red circle at the center", "a large blue square at the top left"])
    hidden, pooled = text.encode(encoder, ids)
    sep = (ids == tokenizer.sep_token_id).int().argmax(1)
    torch.testing.assert_close(pooled, hidden[torch.arange(2), sep])
    assert not torch.allclose(pooled[0], pooled[1])
