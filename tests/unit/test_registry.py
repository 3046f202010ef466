"""Registry lookups and did-you-mean errors."""

from __future__ import annotations

import sys

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


# ------------------------------------------------------------------------------------------------------ lazy entries
@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """A throwaway module that counts how often it is imported (name unique per test: nothing else imports it)."""
    name = f"lazy_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text("import builtins\n"
                                         "builtins.LAZY_IMPORTS = getattr(builtins, 'LAZY_IMPORTS', 0) + 1\n"
                                         "VALUE = object()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins

    monkeypatch.setattr(builtins, "LAZY_IMPORTS", 0, raising=False)
    yield name
    sys.modules.pop(name, None)


def test_lazy_entry_is_imported_on_first_get_and_cached(plugin_module):
    import builtins

    reg: Registry[object] = Registry("plugin")
    reg.add_lazy("p", f"{plugin_module}:VALUE")
    assert "p" in reg and reg.names() == ["p"] and not reg.is_loaded("p")
    assert plugin_module not in sys.modules and builtins.LAZY_IMPORTS == 0  # listing imported nothing
    first = reg.get("p")
    assert reg.is_loaded("p") and first is sys.modules[plugin_module].VALUE
    sys.modules.pop(plugin_module)  # a second get must not import again
    assert reg.get("p") is first and builtins.LAZY_IMPORTS == 1


def test_lazy_entries_keep_did_you_mean_errors_without_importing(plugin_module):
    reg: Registry[object] = Registry("protocol")
    reg.add_lazy("coco30k-256", f"{plugin_module}:VALUE")
    with pytest.raises(UnknownNameError, match="did you mean 'coco30k-256'"):
        reg.get("coco30k")
    assert plugin_module not in sys.modules


def test_lazy_entry_with_a_missing_attribute_names_it(plugin_module):
    reg: Registry[object] = Registry("plugin")
    reg.add_lazy("p", f"{plugin_module}:NOPE")
    with pytest.raises(ImportError, match=f"{plugin_module} has no attribute 'NOPE'"):
        reg.get("p")


@pytest.mark.parametrize("target", ["no_colon", ":attr", "mod:", "mod:not-an-identifier"])
def test_malformed_lazy_target_is_refused_at_registration(target):
    with pytest.raises(ValueError, match="package.module:attribute"):
        Registry("plugin").add_lazy("p", target)


def test_lazy_and_plain_entries_share_one_namespace():
    reg: Registry[object] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add_lazy("a", "json:dumps")
