"""Entry comparisons and gates (`leaderboard/compare.py`): the paired bootstrap replayed with its random stream,
the normal interval from two CIs computed by hand, verdicts at their boundaries, and every message in full."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ddmd_bench.leaderboard import compare as C
from ddmd_bench.leaderboard.compare import Comparison, Gate, GateRefused

FP = {"fingerprint": "f"}


def _replay(a, b, n_boot=2000, seed=0, level=0.95):
    d = np.array([y - x for x, y in zip(a, b) if x is not None and y is not None])
    means = d[np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))].mean(1)
    alpha = (1 - level) / 2
    return float(d.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)), d.size


def test_paired_bootstrap_replays_with_defaults_and_options():
    a = [1.0, 2.0, None, 4.0, 3.0, 0.5]
    b = [1.5, None, 3.0, 4.0, 5.0, 0.25]
    assert C.paired_bootstrap(a, b) == _replay(a, b)
    assert C.paired_bootstrap(a, b)[3] == 4
    assert C.paired_bootstrap(a, b, n_boot=50, seed=3, level=0.8) == _replay(a, b, 50, 3, 0.8)
    x, y = list(np.linspace(0.0, 1.0, 12)), list(np.linspace(0.0, 1.0, 12) ** 2)
    assert C.paired_bootstrap(x, y, seed=1) != C.paired_bootstrap(x, y)
    assert C.paired_bootstrap(x, y, n_boot=100) != C.paired_bootstrap(x, y)
    assert C.paired_bootstrap(x, y, level=0.5) != C.paired_bootstrap(x, y)


def test_paired_bootstrap_errors():
    with pytest.raises(ValueError, match=r"^per-sample scores are not aligned \(2 vs 3\): different protocols\?$"):
        C.paired_bootstrap([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="^no sample is scored in both entries$"):
        C.paired_bootstrap([None, 1.0], [2.0, None])


def test_verdict_boundaries_and_direction():
    assert C._verdict("m", 0.1, 0.0, 0.2, True) == "no significant difference"
    assert C._verdict("m", -0.1, -0.2, 0.0, True) == "no significant difference"
    assert C._verdict("clip", 0.123456, 0.01, 0.2, True) == "B is better (clip +0.1235)"
    assert C._verdict("fid", 0.5, 0.1, 0.9, False) == "B is worse (fid +0.5)"
    assert C._verdict("fid", -2.0, -3.0, -1.0, False) == "B is better (fid -2)"
    assert C._verdict("clip", -2.0, -3.0, -1.0, True) == "B is worse (clip -2)"
    # a zero difference is not an improvement in either direction (only a bootstrap interval can exclude it)
    assert C._verdict("clip", 0.0, 0.1, 0.2, True) == "B is worse (clip +0)"
    assert C._verdict("fid", 0.0, 0.1, 0.2, False) == "B is better (fid +0)"


def test_compare_metric_pairs_per_sample_scores():
    ma = {"value": 0.3, "per_sample": [0.1, 0.2, 0.3, 0.4, 0.5]}
    mb = {"value": 0.5, "per_sample": (0.3, 0.5, 0.4, 0.7, 0.6)}
    diff, low, high, n = _replay(ma["per_sample"], mb["per_sample"])
    got = C.compare_metric("clip_score", ma, mb)
    assert got == Comparison("clip_score", 0.3, 0.5, diff, low, high, "paired bootstrap over 5 samples",
                             C._verdict("clip_score", diff, low, high, True))
    assert got.verdict.startswith("B is better")


def test_compare_metric_combines_two_intervals():
    ma = {"value": 10.0, "ci_low": 9.0, "ci_high": 11.0, "per_sample": [1.0]}
    mb = {"value": 14.0, "ci_low": 12.0, "ci_high": 16.0}
    se = math.sqrt((2.0 / 3.92) ** 2 + (4.0 / 3.92) ** 2)
    got = C.compare_metric("fid", ma, mb)
    assert got.method == "normal interval from both CIs"
    assert (got.a, got.b, got.diff) == (10.0, 14.0, 4.0)
    assert got.low == pytest.approx(4.0 - 1.96 * se, rel=1e-12)
    assert got.high == pytest.approx(4.0 + 1.96 * se, rel=1e-12)
    assert got.verdict == "B is worse (fid +4)"
    # an overlapping pair: the interval spans 0
    close = C.compare_metric("fid", ma, {"value": 10.5, "ci_low": 9.5, "ci_high": 11.5})
    assert close.verdict == "no significant difference"
    # the recorded direction wins over the registry's
    flipped = C.compare_metric("fid", {**ma, "higher_is_better": True}, mb)
    assert flipped.verdict == "B is better (fid +4)"


@pytest.mark.parametrize("ma, mb, diff", [
    ({"value": 1.0}, {"value": 3.0, "ci_low": 2.0, "ci_high": 4.0}, 2.0),
    ({"value": 1.0, "ci_low": 0.0, "ci_high": 2.0}, {"value": 3.0}, 2.0),
    ({"value": None, "ci_low": 0.0, "ci_high": 2.0}, {"value": 3.0, "ci_low": 2.0, "ci_high": 4.0}, None),
    ({"value": 1.0, "ci_low": 0.0, "ci_high": 2.0}, {"ci_low": 2.0, "ci_high": 4.0}, None),
    ({"value": 1.0, "per_sample": []}, {"value": 1.5, "per_sample": [1.0]}, 0.5),
])
def test_compare_metric_without_an_interval(ma, mb, diff):
    assert C.compare_metric("fid", ma, mb) == Comparison("fid", ma.get("value"), mb.get("value"), diff, None, None,
                                                         "no interval available",
                                                         "not testable (no CI or samples)")


def _record(metrics, latency=None, fingerprint="f"):
    out = {"protocol": {"fingerprint": fingerprint}, "metrics": metrics}
    if latency is not None:
        out["latency"] = latency
    return out


CPU = {"type": "cpu", "name": "X", "threads": 2}


def test_compare_records_shared_metrics_in_order_and_latency():
    ra = _record({"fid": {"value": 2.0}, "clip": {"value": 0.3}, "only_a": {"value": 1.0}},
                 {"median": 0.2, "iqr": 0.001, "device": CPU})
    rb = _record({"clip": {"value": 0.4}, "fid": {"value": 1.0}, "only_b": {"value": 1.0}},
                 {"median": 0.1, "iqr": 0.001, "device": CPU})
    out = C.compare_records(ra, rb)
    assert [c.metric for c in out] == ["fid", "clip", "latency.p50"]
    assert out[0] == C.compare_metric("fid", {"value": 2.0}, {"value": 1.0})
    assert out[2] == Comparison("latency.p50", 0.2, 0.1, 0.1 - 0.2, None, None, "same hardware", "B/A = 0.500")


def test_compare_records_latency_notes():
    quiet = {"median": 1.0, "iqr": 0.01, "device": CPU}
    noisy = {"median": 1.0, "iqr": 0.5, "device": CPU}
    other = {"median": 2.0, "iqr": 0.01, "device": {**CPU, "name": "Y"}}
    row = C.compare_records(_record({}, quiet), _record({}, other))[0]
    assert row.method == "DIFFERENT hardware: not comparable" and row.verdict == "B/A = 2.000"
    row = C.compare_records(_record({}, noisy), _record({}, quiet))[0]
    assert row.method == "same hardware; NOISY (A: IQR above 10% of the median)"
    row = C.compare_records(_record({}, noisy), _record({}, noisy))[0]
    assert row.method == "same hardware; NOISY (A and B: IQR above 10% of the median)"
    row = C.compare_records(_record({}, quiet), _record({}, noisy))[0]
    assert row.method == "same hardware; NOISY (B: IQR above 10% of the median)"
    zero = C.compare_records(_record({}, {"median": 0.0, "device": CPU}), _record({}, quiet))[0]
    assert zero.verdict == "n/a" and zero.diff == 1.0


def test_compare_records_without_latency_on_either_side():
    assert C.compare_records(_record({}), _record({}, {"median": 1.0})) == []
    assert C.compare_records(_record({}, {"median": 1.0}), _record({})) == []
    assert C.compare_records(_record({}, {"p90": 1.0}), _record({}, {"median": 1.0})) == []
    assert C.compare_records(_record({}, {"median": 1.0}), _record({}, {"p90": 1.0})) == []


def test_compare_records_of_different_protocols_is_refused():
    with pytest.raises(ValueError, match="^entries come from different protocols and cannot be compared$"):
        C.compare_records(_record({}), _record({}, fingerprint="g"))


@pytest.mark.parametrize("text, gate", [
    ("fid:+0.5", Gate("fid", 0.5, False)),
    ("fid:2", Gate("fid", 2.0, False)),
    (" latency.p50:5% ", Gate("latency.p50", 0.05, True)),
    ("clip_score:12.5%", Gate("clip_score", 0.125, True)),
])
def test_gate_parse(text, gate):
    assert Gate.parse(text) == gate


@pytest.mark.parametrize("text", ["fid", "fid:-1", "fid:+1.", "fid:x", "fid:5%%", ":1", "fid:1 %", "f id:1"])
def test_gate_parse_refuses_malformed_text(text):
    with pytest.raises(ValueError) as err:
        Gate.parse(text)
    assert str(err.value) == (f"bad gate {text!r}: expected METRIC:+AMOUNT or METRIC:PERCENT% "
                              "(e.g. fid:+0.5, latency.p50:5%)")


def test_absolute_gate_on_a_lower_is_better_metric():
    ra, rb = _record({"fid": {"value": 10.0}}), _record({"fid": {"value": 10.5}})
    assert Gate("fid", 0.5, False).check(ra, rb) is None  # worse by exactly the allowance passes
    assert Gate("fid", 0.4, False).check(ra, rb) == "fid: 10 -> 10.5 is worse by 0.5 (> allowed 0.4)"
    assert Gate("fid", 0.0, False).check(rb, ra) is None  # better passes


def test_relative_gate_and_higher_is_better():
    ra, rb = _record({"clip": {"value": 0.5, "higher_is_better": True}}), _record({"clip": {"value": 0.375}})
    assert Gate("clip", 0.25, True).check(ra, rb) is None  # a drop of 0.125 is 25% of 0.5: allowed
    assert Gate("clip", 0.2, True).check(ra, rb) == "clip: 0.5 -> 0.375 is worse by 0.125 (> allowed 20%)"
    assert Gate("clip", 0.0, True).check(rb, ra) is None
    neg = _record({"score": {"value": -2.0}})
    assert Gate("score", 0.5, True).check(neg, _record({"score": {"value": -2.9}})) is None  # |a| * 50% = 1
    assert Gate("score", 0.5, True).check(neg, _record({"score": {"value": -3.5}})) == (
        "score: -2 -> -3.5 is worse by 1.5 (> allowed 50%)")


@pytest.mark.parametrize("metric, field", [("latency.p50", "median"), ("latency.median", "median"),
                                           ("latency.p90", "p90"), ("latency.mean", "mean")])
def test_latency_gates_read_their_field_and_lower_is_better(metric, field):
    ra = _record({}, {"median": 1.0, "p90": 1.0, "mean": 1.0, "iqr": 0.01, "device": CPU})
    rb = _record({}, {"median": 1.0, "p90": 1.0, "mean": 1.0, "iqr": 0.01, "device": CPU})
    rb["latency"][field] = 1.2
    assert Gate(metric, 0.25, True).check(ra, rb) is None
    assert Gate(metric, 0.1, True).check(ra, rb) == f"{metric}: 1 -> 1.2 is worse by 0.2 (> allowed 10%)"
    assert Gate(metric, 0.1, True).check(rb, ra) is None


def test_latency_gate_refuses_other_hardware_and_noise():
    ra = _record({}, {"median": 1.0, "iqr": 0.01, "device": CPU})
    rb = _record({}, {"median": 1.0, "iqr": 0.01, "device": {**CPU, "threads": 4}})
    with pytest.raises(GateRefused) as err:
        Gate("latency.p50", 0.1, True).check(ra, rb)
    assert str(err.value) == ("refusing the gate latency.p50: they were measured on different hardware, X (cpu, 2 "
                              "threads) vs X (cpu, 4 threads); latency compares only within one machine: measure "
                              "both on the same one")
    noisy = _record({}, {"median": 1.0, "iqr": 0.5, "device": CPU})
    with pytest.raises(GateRefused, match="^refusing the gate latency.p90: the latency of B"):
        Gate("latency.p90", 0.1, True).check(ra, noisy)
    # a record without latency at all: refused by name, not compared as a number
    with pytest.raises(GateRefused, match="latency was not measured for A and B"):
        Gate("latency.p50", 0.1, True).check({"metrics": {}}, {"metrics": {}, "latency": None})


def test_unknown_gate_metric_lists_the_choices():
    with pytest.raises(ValueError) as err:
        Gate("kid", 1.0, False).check(_record({"fid": {"value": 1.0}, "clip": {"value": 1.0}}), _record({}))
    assert str(err.value) == ("unknown gate metric 'kid'; choices: fid, clip, latency.p50, latency.median, "
                              "latency.p90, latency.mean")


def test_gates_on_metrics_do_not_look_at_latency():
    ra = _record({"fid": {"value": 1.0}}, {"median": 1.0, "iqr": 0.9, "device": CPU})
    rb = _record({"fid": {"value": 1.0}}, {"median": 5.0, "iqr": 0.9, "device": {"name": "other"}})
    assert Gate("fid", 0.0, False).check(ra, rb) is None
