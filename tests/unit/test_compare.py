"""compare: verdicts on synthetic data with and without a real difference, false-positive rate, gates."""

from __future__ import annotations

import numpy as np
import pytest

from ddmd_bench.leaderboard import compare


def _record(per_sample: list[float], fid: float = 10.0, fid_ci: float = 0.5, latency: float = 0.1) -> dict:
    return {"protocol": {"fingerprint": "f"}, "generator": {"name": "g"},
            "metrics": {"prompt_accuracy": {"value": float(np.mean(per_sample)), "per_sample": per_sample,
                                            "higher_is_better": True},
                        "fid": {"value": fid, "ci_low": fid - fid_ci, "ci_high": fid + fid_ci,
                                "higher_is_better": False}},
            "latency": {"median": latency, "p90": latency * 1.2, "device": {"name": "cpu"}}}


def _paired_scores(seed: int, effect: float, n: int = 400):
    rng = np.random.default_rng(seed)
    prompt_difficulty = rng.normal(size=n)  # shared by both entries: the pairing removes it
    a = prompt_difficulty + rng.normal(scale=0.5, size=n)
    b = prompt_difficulty + effect + rng.normal(scale=0.5, size=n)
    return a.tolist(), b.tolist()


def test_known_difference_is_detected_with_the_right_direction():
    a, b = _paired_scores(0, effect=0.15)
    c = compare.compare_metric("prompt_accuracy", _record(a)["metrics"]["prompt_accuracy"],
                               _record(b)["metrics"]["prompt_accuracy"])
    assert c.verdict.startswith("B is better") and c.low > 0 and c.low < 0.15 < c.high


def test_no_difference_gives_about_five_percent_false_positives():
    positives = 0
    trials = 200
    for seed in range(trials):
        a, b = _paired_scores(seed, effect=0.0, n=200)
        diff, low, high, _ = compare.paired_bootstrap(a, b, n_boot=500, seed=seed)
        positives += not (low <= 0 <= high)
    assert positives / trials <= 0.09  # nominal 5%; the bound leaves room for sampling noise (sd ~1.5%)
    assert positives > 0  # an interval that never excludes 0 would be useless


def test_none_entries_are_skipped_in_pairs():
    diff, _, _, n = compare.paired_bootstrap([1.0, None, 0.0, 1.0], [1.0, 1.0, None, 0.0])
    assert n == 2 and diff == -0.5


def test_misaligned_per_sample_scores_are_an_error():
    with pytest.raises(ValueError, match="not aligned"):
        compare.paired_bootstrap([1.0, 2.0], [1.0])


def test_fid_uses_both_intervals():
    worse = compare.compare_metric("fid", _record([1.0], fid=10.0, fid_ci=0.3)["metrics"]["fid"],
                                   _record([1.0], fid=12.0, fid_ci=0.3)["metrics"]["fid"])
    same = compare.compare_metric("fid", _record([1.0], fid=10.0, fid_ci=1.0)["metrics"]["fid"],
                                  _record([1.0], fid=10.4, fid_ci=1.0)["metrics"]["fid"])
    assert worse.verdict.startswith("B is worse") and same.verdict == "no significant difference"


@pytest.mark.parametrize("gate, fid_b, latency_b, fails", [
    ("fid:+0.5", 10.4, 0.1, False), ("fid:+0.5", 10.6, 0.1, True), ("fid:+0.5", 8.0, 0.1, False),
    ("latency.p50:5%", 10.0, 0.104, False), ("latency.p50:5%", 10.0, 0.106, True),
    ("prompt_accuracy:+0.01", 10.0, 0.1, True),
])
def test_gates(gate, fid_b, latency_b, fails):
    a = _record([1.0, 1.0], fid=10.0, latency=0.1)
    b = _record([1.0, 0.9], fid=fid_b, latency=latency_b)
    assert (compare.Gate.parse(gate).check(a, b) is not None) == fails


@pytest.mark.parametrize("bad", ["fid", "fid:abc", "fid:-1", ":5%"])
def test_bad_gate_syntax(bad):
    with pytest.raises(ValueError, match="bad gate"):
        compare.Gate.parse(bad)


def test_unknown_gate_metric_lists_choices():
    with pytest.raises(ValueError, match="unknown gate metric 'clip'.*prompt_accuracy"):
        compare.Gate.parse("clip:+1").check(_record([1.0]), _record([1.0]))
