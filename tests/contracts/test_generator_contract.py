"""The Generator contract, for every kind of generator: image i depends only on (prompts[i], seeds[i]) whatever the
batch, the same (prompt, seed) gives the same image, and `describe()` is a stable, JSON-serialisable identity."""

from __future__ import annotations

import json

import pytest
import torch

from ddmd_bench.generators.base import Generator
from tests.contracts.cases import GENERATORS, generator, hub

PROMPTS = ["a small red square at the top left", "a large blue circle at the center",
           "a small yellow triangle at the bottom right", "a large purple triangle at the top right"]
SEEDS = [11, 12, 13, 14]
# CPU matmul kernels are chosen by batch shape, so a value that lands on a .5 grey level may round the other way:
# at most one level, on a handful of pixels. Anything that depends on the batch (shared noise, prompts,
# normalisation) moves whole images by far more.
MAX_LEVELS, MAX_FRACTION = 1, 1e-3


@pytest.fixture(params=list(GENERATORS))
def case(request, monkeypatch):
    """A contract case; a `method:` case finds its repositories in the local hub, offline."""
    if GENERATORS[request.param][2]:
        monkeypatch.setenv("HF_HUB_CACHE", str(hub()))
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return request.param


def test_every_generator_kind_has_a_contract_case():
    from ddmd_bench.generators.resolve import KINDS, SHIPPED

    assert set(KINDS.names()) | set(SHIPPED.names()) <= {kind for kind, _, _ in GENERATORS.values()}


def test_image_depends_only_on_its_prompt_and_seed_not_on_the_batch(case):
    gen = generator(case)
    together = gen.generate(PROMPTS, SEEDS)
    assert together.dtype == torch.uint8 and together.ndim == 4 and together.shape[:2] == (4, 3)
    alone = torch.cat([gen.generate([p], [s]) for p, s in zip(PROMPTS, SEEDS)])
    pairs = torch.cat([gen.generate(PROMPTS[i:i + 2], SEEDS[i:i + 2]) for i in (0, 2)])
    reordered = gen.generate(PROMPTS[::-1], SEEDS[::-1]).flip(0)
    for other in (alone, pairs, reordered):
        diff = (together.int() - other.int()).abs()
        assert diff.max() <= MAX_LEVELS and (diff > 0).float().mean() < MAX_FRACTION, (diff.max(), (diff > 0).sum())
    # not vacuous: the images differ from each other by far more than the tolerance
    assert all((together[i].int() - together[j].int()).abs().max() > 8 for i in range(4) for j in range(i))


def test_same_prompt_and_seed_give_the_same_image(case):
    gen = generator(case)
    first = gen.generate(PROMPTS[:2], SEEDS[:2])
    assert torch.equal(first, gen.generate(PROMPTS[:2], SEEDS[:2]))  # same batch layout: bit-identical
    other_seed = gen.generate(PROMPTS[:1], [SEEDS[0] + 100])
    other_prompt = gen.generate(PROMPTS[1:2], SEEDS[:1])
    # the image depends on both: another seed or another prompt gives another image
    assert not torch.equal(first[:1], other_seed) and not torch.equal(first[:1], other_prompt)


def test_prompts_and_seeds_must_pair_up(case):
    gen = generator(case)
    with pytest.raises(ValueError):
        gen.generate(PROMPTS[:2], SEEDS[:1])


def test_identity_is_stable_and_json_serialisable(case):
    gen = generator(case)
    assert isinstance(gen, Generator)
    before = gen.describe()
    text = json.dumps(before, sort_keys=True, allow_nan=False)  # no default=: every value is plain JSON
    assert json.loads(text) == before
    gen.generate(PROMPTS[:1], SEEDS[:1])
    assert gen.describe() == before  # generating changes nothing in the identity
    assert before["name"] == gen.name and isinstance(gen.name, str) and gen.name
    assert before["nfe"] == gen.nfe and isinstance(gen.nfe, int) and gen.nfe >= 1
    assert gen.fresh().describe() == before  # a new instance of the same generator: the same identity
