"""The package's shape: no import cycle (function-level imports and lazy registry entries included), the
import-linter contracts hold, and docs/architecture.md draws the layers `.importlinter` enforces."""

from __future__ import annotations

import configparser
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_script():
    spec = importlib.util.spec_from_file_location("import_cycles", REPO / "scripts" / "import_cycles.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


cycles = _load_script()


def _package(root: Path, files: dict[str, str]) -> Path:
    """A throwaway `ddmd_bench` package under `root` with the given module sources."""
    package = root / "ddmd_bench"
    for name, source in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return package


# ------------------------------------------------------------------------------------------- the cycle finder itself
def test_finder_sees_a_cycle_closed_by_a_function_level_import(tmp_path):
    package = _package(tmp_path, {
        "a.py": "from ddmd_bench import b\n",
        "b.py": "def f():\n    from ddmd_bench.a import x\n",
        "c.py": "from ddmd_bench import a\n",
    })
    assert cycles.find_cycles(package) == [["ddmd_bench.a", "ddmd_bench.b", "ddmd_bench.a"]]
    [hidden] = cycles.unexplained_function_imports(package)
    assert (hidden.source, hidden.target, hidden.line) == ("ddmd_bench.b", "ddmd_bench.a", 2)


def test_finder_resolves_relative_imports_and_counts_registry_entries_only_when_asked(tmp_path):
    package = _package(tmp_path, {
        "catalogue.py": "R.add_lazy('x', 'ddmd_bench.tracks.plugin:ENTRY')\n",
        "tracks/__init__.py": "",
        "tracks/plugin.py": "from .. import catalogue\n",  # a plug-in using its own catalogue
        "tracks/other.py": "from . import plugin\n",
        "tracks/loop.py": "from .other import x\n",
    })
    assert cycles.find_cycles(package) == []
    assert cycles.find_cycles(package, registry=True) == [
        ["ddmd_bench.catalogue", "ddmd_bench.tracks.plugin", "ddmd_bench.catalogue"]]
    (package / "tracks" / "plugin.py").write_text("def f():\n    from .loop import y\n")
    assert cycles.find_cycles(package) == [
        ["ddmd_bench.tracks.loop", "ddmd_bench.tracks.other", "ddmd_bench.tracks.plugin", "ddmd_bench.tracks.loop"]]


def test_type_checking_imports_and_explained_ones_are_not_flagged(tmp_path):
    package = _package(tmp_path, {
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ddmd_bench.b import B\n",
        "b.py": ("def f():\n    # torch: only a run needs it\n    from ddmd_bench import a\n"
                 "    from ddmd_bench import c\n\ndef g():\n    from ddmd_bench import c  # heavy\n"),
        "c.py": "",
    })
    assert cycles.find_cycles(package) == []
    assert cycles.unexplained_function_imports(package) == []


def test_the_script_exits_1_on_a_cycle(tmp_path, capsys):
    package = _package(tmp_path, {"a.py": "import ddmd_bench.b\n", "b.py": "import ddmd_bench.a\n"})
    assert cycles.main(["--root", str(package)]) == 1
    assert "import cycles: 1" in capsys.readouterr().out
    clean = _package(tmp_path / "clean", {"a.py": "import ddmd_bench.b\n", "b.py": ""})
    assert cycles.main(["--root", str(clean)]) == 0


# ---------------------------------------------------------------------------------------------------- the package
def test_no_import_cycles_counting_function_level_imports():
    assert cycles.find_cycles() == []


def test_contract_layer_has_no_unexplained_function_level_imports():
    low = set(_layers()[-1].split(" : "))
    unexplained = [f"{i.path.name}:{i.line} {i.source} -> {i.target}" for i in cycles.unexplained_function_imports()
                   if i.source.split(".")[1] in low]
    assert unexplained == []


def _lint_imports() -> Path:
    exe = Path(sys.executable).with_name("lint-imports")
    if importlib.util.find_spec("importlinter") is None or not exe.exists():
        pytest.skip("import-linter is not installed in this environment (pip install -e '.[dev]' installs it)")
    return exe


def test_import_contracts_hold():
    done = subprocess.run([str(_lint_imports()), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


# --------------------------------------------------------------------------------------------- contracts and docs
def _config() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    return config


def _layers() -> list[str]:
    raw = _config()["importlinter:contract:layers"]["layers"]
    return [line.strip() for line in raw.strip().splitlines()]


def test_every_package_is_in_a_layer():
    named = {part.strip() for layer in _layers() for part in re.split(r"[|:]", layer)}
    top = {p.stem if p.suffix == ".py" else p.name for p in (REPO / "ddmd_bench").iterdir()
           if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    tracks = {f"tracks.{p.name}" for p in (REPO / "ddmd_bench" / "tracks").iterdir() if (p / "__init__.py").exists()}
    assert (top - {"tracks"}) | tracks == named


def test_architecture_doc_draws_the_enforced_layers():
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"```text\n(.*?)```", doc, re.S)
    assert block, "docs/architecture.md needs the layer picture in a ```text block"
    assert [line.strip() for line in block.group(1).strip().splitlines()] == _layers()


@pytest.mark.parametrize("module", ["ddmd_bench.protocols", "ddmd_bench.metrics.reference",
                                    "ddmd_bench.generators.resolve"])
def test_catalogues_import_no_track_until_an_entry_is_asked_for(module):
    """Lazy registry entries name track objects by import path: importing a catalogue imports none of them."""
    code = (f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m.startswith('ddmd_bench.tracks')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
