"""Registry lookups and did-you-mean errors."""

from __future__ import annotations

import pytest

from ddmd_bench.registry import Registry, UnknownNameError


def test_register_and_get():
    reg: Registry[int] = Registry("thing")
    reg.add("alpha", 1)
    assert reg.get("alpha") == 1 and "alpha" in reg and reg.names() == ["alpha"]


def test_unknown_name_suggests_close_matches():
    reg: Registry[int] = Registry("protocol")
    reg.add("toy", 1)
    reg.add("coco30k", 2)
    with pytest.raises(UnknownNameError) as info:
        reg.get("tyo")
    assert "unknown protocol 'tyo'" in str(info.value) and "did you mean 'toy'" in str(info.value)


def test_duplicate_registration_is_an_error():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 2)
