"""docs/mutation.md's generated section, built from a small results file written here."""

from __future__ import annotations

import json

from ddmd_bench.report.mutation import mutation
from ddmd_bench.report.sources import Sources


def _module(killed, survived, not_run, survivors=(), equivalent=0):
    checked = killed + survived
    return {"mutants": killed + survived + not_run + equivalent, "killed": killed, "survived": survived,
            "equivalent": equivalent, "no_tests": 0, "timeout": 0, "not_run": not_run, "suspicious": 0,
            "skipped": 0, "checked": checked, "kill_rate": killed / checked if checked else None,
            "survivors": list(survivors)}


SURVIVOR = "ddmd_bench.metrics.functional.x_a__mutmut_1"


def test_section_lists_each_module_the_goal_the_cost_and_the_survivors(tmp_path):
    results = {"goal": 0.9, "tested": 120, "stale_equivalents": [],
               "modules": {"ddmd_bench.metrics.functional": _module(95, 5, 0, [SURVIVOR], 2),
                           "ddmd_bench.leaderboard.store": _module(8, 2, 10),
                           "ddmd_bench.training.losses": _module(0, 0, 7)},
               "run": {"wall_seconds": 1200.0, "workers": 2, "cpus": 4, "load_average": [3.5, 3.0, 2.0],
                       "written": "2026-01-01 10:00 UTC", "python": "3.11"}}
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "mutation-results.json").write_text(json.dumps(results))
    text = mutation(Sources(tmp_path))
    lines = text.splitlines()
    assert lines[2] == "| `metrics/functional.py` | 102 | 95 | 5 | 2 | 0 | 0 | 0 | 95.0% |"
    assert lines[3] == "| `leaderboard/store.py` | 20 | 8 | 2 | 0 | 0 | 0 | 10 | 80.0% |"
    assert lines[4] == "| `training/losses.py` | 7 | 0 | 0 | 0 | 0 | 0 | 7 | - |"
    assert ("Met, over the mutants checked so far, by 1 of 3 modules; below it: `leaderboard/store.py`; none "
            "checked yet: `training/losses.py`; not run to the end: `leaderboard/store.py`, "
            "`training/losses.py`.*") in text
    assert ("120 mutants tested in 20 min of wall time with 2 worker(s) on 4 CPU core(s) shared with other work "
            "(load average 3.5 when the results were written, 2026-01-01 10:00 UTC), that is 6.0 mutants per "
            "minute; at that pace all 129 mutants from scratch take about 22 min on this machine.") in text
    assert text.endswith("- `ddmd_bench.metrics.functional.x_a__mutmut_1`")
