"""No dead code in the library: vulture finds no unused function, class, method, attribute or variable.

Tests, scripts and benchmarks are scanned too, as users of the library (a public function that only tests call is
API, not dead code), but only findings inside `ddmd_bench/` count. Names used in ways vulture cannot follow are
listed, with the reason, in `scripts/vulture_whitelist.py`; decorator-registered entry points are skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHITELIST = "scripts/vulture_whitelist.py"
# 60 is vulture's lowest confidence: every unused function, method, class and attribute is reported; findings it
# cannot judge (registered entry points, fields read through asdict) are skipped or whitelisted instead.
COMMAND = ["--min-confidence", "60", "--ignore-decorators", "@*.register,@*.command,@*.group"]


def lazy_entries() -> list[str]:
    """Names that registries import by reference ('ddmd_bench.tracks.toy.plugins:protocol'): used, but only
    through a string."""
    pattern = re.compile(r"[\"']ddmd_bench(?:\.\w+)+:(\w+)[\"']")
    return sorted({m for path in (ROOT / "ddmd_bench").rglob("*.py") for m in pattern.findall(path.read_text())})


def _findings(*paths: str) -> list[str]:
    ignore = ["--ignore-names", ",".join(lazy_entries())] if paths[0] == "ddmd_bench" else []
    done = subprocess.run([sys.executable, "-m", "vulture", *paths, *COMMAND, *ignore], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 3), done.stderr  # 3: vulture found something (listed on stdout)
    return sorted(line for line in done.stdout.splitlines() if line.strip())


def test_library_has_no_dead_code():
    found = _findings("ddmd_bench", "tests", "scripts", "benchmarks", WHITELIST)
    library = [line for line in found if line.startswith("ddmd_bench/")]
    assert library == [], "dead code (delete it, or whitelist a use vulture cannot see in " + WHITELIST + \
        "):\n" + "\n".join(library)


def test_lazy_registry_entries_are_found():
    assert {"protocol", "feature_extractor"} <= set(lazy_entries())  # the toy track's plug-ins


def test_the_check_can_fail(tmp_path):
    (tmp_path / "module.py").write_text("def used():\n    return 1\n\n\ndef forgotten():\n    return 2\n\n\nused()\n")
    assert [line.split(": ", 1)[1] for line in _findings(str(tmp_path / "module.py"))] == \
        ["unused function 'forgotten' (60% confidence)"]
