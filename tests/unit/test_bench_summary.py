"""benchmarks/summary.json after a benchmark run: every figure's target comes from one table, a run's ratios merge
over an earlier run's from the same machine, and a failed benchmark leaves no ratio behind."""

from __future__ import annotations

import pytest

from benchmarks import sidebyside

HERE = {"cpu": "Test CPU", "cores": 2, "torch": "9.9", "python": "3.11.7", "load_1min": {"start": 0.1, "end": 0.2}}
T0, T1 = "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"


@pytest.fixture(autouse=True)
def _empty_ratios(monkeypatch):
    monkeypatch.setattr(sidebyside, "RATIOS", {})


def test_a_figure_takes_its_target_from_the_table_and_a_different_one_is_refused():
    r = sidebyside.record("demo_evaluate", 70.0, 5.0, baseline="reuse", rounds=1)
    assert r["target"] == {"max_seconds": 60.0} and r["met"] is False
    assert sidebyside.record("frechet_2048d", 1.0, 12.0, baseline="clean-fid", rounds=3)["met"] is True
    with pytest.raises(ValueError, match="FIGURES holds it to"):
        sidebyside.record("frechet_2048d", 1.0, 12.0, baseline="clean-fid", rounds=3,
                          target=sidebyside.Target(min_speedup=2.0))
    assert "target" not in sidebyside.record("not_a_figure", 1.0, 2.0, baseline="x", rounds=1)


def _ratio(test, value=1.0, **extra):
    return {"ours_median_s": value, "baseline_median_s": 2.0, "speedup": 2.0 / value, "rounds": 3, "baseline": "x",
            "test": test, **extra}


def test_a_partial_run_merges_over_the_earlier_summary_from_the_same_machine():
    old = {"machine": HERE, "measured": T0, "ratios": {"a": _ratio("t::a"), "b": _ratio("t::b")}}
    new = sidebyside.merge_summary(old, T1, HERE, {"a": _ratio("t::a", 0.5)}, {}, {"t::a"})
    assert new["ratios"]["a"]["ours_median_s"] == 0.5 and new["ratios"]["a"]["measured"] == T1
    assert new["ratios"]["b"]["measured"] == T0  # kept, with the date it was measured
    assert new["figures"] == {n: t.to_dict() if t else None for n, t in sidebyside.FIGURES.items()}
    assert new["measured"] == T1 and new["failed"] == {}


def test_ratios_from_another_machine_are_dropped():
    old = {"machine": {**HERE, "cores": 16}, "measured": T0, "ratios": {"b": _ratio("t::b")},
           "failed": {"t::c": "boom"}}
    new = sidebyside.merge_summary(old, T1, HERE, {"a": _ratio("t::a")}, {}, {"t::a"})
    assert list(new["ratios"]) == ["a"] and new["failed"] == {}


def test_a_failed_benchmark_loses_its_earlier_ratios_and_stays_listed_until_it_passes():
    old = {"machine": HERE, "measured": T0, "ratios": {"a": _ratio("t::a"), "b": _ratio("t::b")}}
    failed = sidebyside.merge_summary(old, T1, HERE, {}, {"t::a": "AssertionError: parity"}, set())
    assert list(failed["ratios"]) == ["b"] and failed["failed"] == {"t::a": "AssertionError: parity"}
    other = sidebyside.merge_summary(failed, T1, HERE, {"b": _ratio("t::b")}, {}, {"t::b"})
    assert other["failed"] == {"t::a": "AssertionError: parity"}
    fixed = sidebyside.merge_summary(other, T1, HERE, {"a": _ratio("t::a")}, {}, {"t::a"})
    assert fixed["failed"] == {} and set(fixed["ratios"]) == {"a", "b"}
