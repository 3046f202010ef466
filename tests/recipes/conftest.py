"""The recipe tests run through `evaluate` on a test protocol: the toy protocol's first 5 prompts (one held-out)
with a single latency round, so that each recipe's 50-step teachers stay affordable on CPU."""

from __future__ import annotations

import dataclasses

import pytest

from ddmd_bench.protocols import PROTOCOLS

PROTOCOL = "toy-recipe-check"


def _factory(limit=None, data=None):
    from ddmd_bench.tracks.toy.track import toy_protocol

    protocol, context = toy_protocol(limit or 5)
    latency = {**protocol.latency, "warmup": 0, "rounds": 1}
    return dataclasses.replace(protocol, name=PROTOCOL, latency=latency), context


@pytest.fixture(scope="session", autouse=True)
def recipe_check_protocol():
    if PROTOCOL not in PROTOCOLS:
        PROTOCOLS.add(PROTOCOL, _factory)
    return PROTOCOL
