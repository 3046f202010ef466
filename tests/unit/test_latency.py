"""Latency: dispersion and the noisy flag, a cold start timed on a new instance before the run, and latency gates
that refuse noisy or cross-hardware comparisons."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ddmd_bench.leaderboard import compare
from ddmd_bench.metrics import dispersion, latency
from ddmd_bench.tracks.toy.protocol_facts import LEADERBOARD_FILE

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ dispersion, noisy flag

def _measure_with(samples: list[float], monkeypatch) -> dict:
    timed = iter(samples)
    monkeypatch.setattr(latency, "_time_once", lambda fn, device: next(timed))
    calls = itertools.count()
    out = latency.measure(lambda: next(calls), latency.LatencyConfig(warmup=2, rounds=len(samples)), CPU, "stub")
    assert next(calls) == 2  # the warm-up calls; the timed ones go through `_time_once`
    return out


def test_quiet_latency_records_its_dispersion(monkeypatch, caplog):
    out = _measure_with([1.00, 1.01, 0.99, 1.00, 1.02], monkeypatch)
    assert out["median"] == 1.0 and out["iqr"] == pytest.approx(0.01)
    assert out["relative_iqr"] == pytest.approx(out["iqr"] / out["median"], rel=1e-15)
    assert out["noisy"] is False and out["noisy_threshold"] == dispersion.NOISY_RELATIVE_IQR == 0.10
    assert "cold_start" not in out  # warm latency only: the cold start is measured apart
    assert "noisy" not in caplog.text


def test_noisy_latency_is_flagged_and_warned(monkeypatch, caplog):
    # the shape of a loaded machine: quartiles 1.0 and 3.0 s around a 2.46 s median
    with caplog.at_level(logging.WARNING, logger="ddmd_bench.metrics.latency"):
        out = _measure_with([0.5, 3.0, 2.46, 1.0, 4.0], monkeypatch)
    assert out["median"] == 2.46 and out["iqr"] == 2.0 and out["noisy"] is True
    assert out["relative_iqr"] == pytest.approx(2.0 / 2.46, rel=1e-15)
    assert "stub: latency is noisy (IQR 81% of the median 2.46 s, above 10%)" in caplog.text


@pytest.mark.parametrize("iqr, noisy", [(0.0, False), (0.10, False), (0.1001, True), (2.0, True)])
def test_noisy_threshold_is_strictly_above_ten_percent(iqr, noisy):
    summary = {"median": 1.0, "iqr": iqr}
    assert dispersion.is_noisy(summary) is noisy and latency.dispersion(summary)["noisy"] is noisy


def test_records_without_dispersion_are_not_called_noisy():
    assert not dispersion.is_noisy({"median": 0.1, "p90": 0.12}) and dispersion.relative_iqr({"median": 0.0}) is None


# ------------------------------------------------------------------------------------------------------ cold start

class SlowStart:
    """A generator with a deliberate load (0.3 s) and first-call cost (0.2 s); later calls are immediate."""

    name = "slow-start"
    nfe = 1

    def __init__(self, events: list) -> None:
        self.events, self.loaded, self.calls = events, False, 0

    def fresh(self) -> SlowStart:
        return SlowStart(self.events)

    def load(self) -> None:
        if not self.loaded:
            time.sleep(0.3)
            self.loaded = True
            self.events.append(("load", id(self)))

    def generate(self, prompts, seeds):
        self.load()
        if not self.calls:
            time.sleep(0.2)
        self.calls += 1
        self.events.append(("generate", id(self)))
        return torch.zeros(len(prompts), 3, 16, 16, dtype=torch.uint8)

    def describe(self) -> dict:
        return {"name": self.name}


def _run_without_metrics(generator, tmp_path):
    from ddmd_bench.evaluation import runner
    from ddmd_bench.tracks.toy.track import toy_protocol
    from ddmd_bench.utils.distributed import World

    protocol, context = toy_protocol(12)
    protocol = dataclasses.replace(protocol, metrics={})
    stub = SimpleNamespace(prompt_set=context.prompt_set, build_metrics=lambda p: {})
    return runner.run(generator, protocol, stub, batch_size=4, progress=False, work_dir=tmp_path / "work",
                      world=World())


def test_cold_start_is_load_and_first_image_of_a_new_instance_before_the_run(tmp_path):
    events: list = []
    main = SlowStart(events)
    record = _run_without_metrics(main, tmp_path)
    lat = record["latency"]
    cold = lat["cold_start"]
    assert cold["what"] == latency.COLD_START_WHAT
    assert cold["load_s"] >= 0.3 and cold["first_image_s"] >= 0.2
    assert cold["seconds"] == pytest.approx(cold["load_s"] + cold["first_image_s"])
    assert cold["seconds"] > 10 * lat["median"]  # the warm calls pay neither cost
    # timed on another instance, before the run's first image
    cold_instance = events[0][1]
    assert events[:2] == [("load", cold_instance), ("generate", cold_instance)] and cold_instance != id(main)
    assert ("generate", id(main)) in events[2:]


def test_cold_start_is_marked_not_measured_for_a_generator_without_the_hook(tmp_path):
    class Plain:
        name, nfe = "plain", 1

        def generate(self, prompts, seeds):
            return torch.zeros(len(prompts), 3, 16, 16, dtype=torch.uint8)

        def describe(self):
            return {"name": self.name}

    cold = _run_without_metrics(Plain(), tmp_path)["latency"]["cold_start"]
    assert cold["seconds"] is None and cold["what"].startswith("not measured: Plain cannot build a new instance")


def test_cold_start_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    latency.cold_start(lambda: torch.rand(100), lambda g: None, lambda g: torch.randn(10), CPU)
    assert torch.equal(torch.rand(3), expected)


def test_toy_cold_start_builds_new_weights_and_costs_more_than_a_warm_call():
    from ddmd_bench.tracks.toy.generators import ToyGenerator, ToyGeneratorSpec

    gen = ToyGenerator(ToyGeneratorSpec("teacher", steps=1))
    fresh = gen.fresh()
    assert fresh.sampler.model is not gen.sampler.model and fresh.describe() == gen.describe()
    assert torch.equal(fresh.generate(["a red circle"], [7]), gen.generate(["a red circle"], [7]))
    warm = latency.measure(lambda: gen.generate(["a red circle"], [7]), latency.LatencyConfig(1, 5), CPU, "toy")
    cold = latency.cold_start(gen.fresh, lambda g: g.load(), lambda g: g.generate(["a red circle"], [7]), CPU)
    assert cold["load_s"] > 0 and cold["seconds"] > warm["median"]


# ----------------------------------------------------------------------------------------------------------- gates

def _lat(median: float = 0.1, iqr: float = 0.002, name: str = "AMD EPYC", threads: int = 2) -> dict:
    return {"median": median, "p90": median * 1.1, "iqr": iqr,
            "device": {"type": "cpu", "name": name, "threads": threads}}


def _rec(lat: dict) -> dict:
    return {"protocol": {"fingerprint": "f"}, "generator": {"name": "g"}, "metrics": {}, "latency": lat}


def test_latency_gate_decides_between_quiet_entries_on_one_machine():
    gate = compare.Gate.parse("latency.p50:5%")
    assert gate.check(_rec(_lat(0.1)), _rec(_lat(0.104))) is None
    assert "worse by" in gate.check(_rec(_lat(0.1)), _rec(_lat(0.106)))


@pytest.mark.parametrize("a, b, message", [
    (_lat(), _lat(iqr=0.05), r"latency of B \(IQR 50% of its median\) is noisy \(above 10%\)"),
    (_lat(iqr=0.03), _lat(iqr=0.05), r"latency of A \(IQR 30% of its median\) and B \(IQR 50%"),
    (_lat(), _lat(name="Intel Xeon"), r"different hardware, AMD EPYC \(cpu, 2 threads\) vs Intel Xeon \(cpu, 2"),
    (_lat(), _lat(threads=16), r"different hardware, AMD EPYC \(cpu, 2 threads\) vs AMD EPYC \(cpu, 16 threads\)"),
])
def test_latency_gate_refuses_noisy_or_cross_hardware_entries(a, b, message):
    for gate in ("latency.p50:5%", "latency.p90:50%"):
        with pytest.raises(compare.GateRefused, match=r"refusing the gate latency\.p[59]0: .*" + message):
            compare.Gate.parse(gate).check(_rec(a), _rec(b))


def test_quality_gates_are_not_refused_for_latency_reasons():
    a = _rec(_lat(name="Intel Xeon", iqr=0.09))
    a["metrics"] = {"fid": {"value": 10.0, "higher_is_better": False}}
    b = {**_rec(_lat()), "metrics": {"fid": {"value": 10.2, "higher_is_better": False}}}
    assert compare.Gate.parse("fid:+0.5").check(a, b) is None


def test_comparison_table_marks_noisy_latency():
    rows = compare.compare_records(_rec(_lat()), _rec(_lat(iqr=0.05)))
    assert rows[-1].metric == "latency.p50" and "NOISY (B: IQR above 10% of the median)" in rows[-1].method


def _leaderboard(tmp_path: Path, lat_a: dict, lat_b: dict) -> Path:
    """The shipped toy leaderboard's header and first two entries, with the given latencies."""
    from ddmd_bench.leaderboard import store

    lines = (ROOT / "leaderboards" / LEADERBOARD_FILE).read_text().splitlines()
    out = [lines[0]]
    for line, lat in zip(lines[1:3], (lat_a, lat_b)):
        record = json.loads(line)["record"]
        record["latency"] = {**record["latency"], **lat}
        out.append(json.dumps({"hash": store.entry_hash(record), "origin": "measured", "record": record}))
    path = tmp_path / LEADERBOARD_FILE
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.parametrize("lat_b, fragment", [
    (_lat(0.2, iqr=0.1), "is noisy (above 10%); re-measure on an idle machine"),
    (_lat(0.2, name="Intel Xeon"), "measured on different hardware, AMD EPYC (cpu, 2 threads) vs Intel Xeon"),
])
def test_cli_fail_on_latency_refuses_with_a_clear_message(tmp_path, lat_b, fragment):
    from click.testing import CliRunner

    from ddmd_bench.cli import main

    lb = str(_leaderboard(tmp_path, _lat(0.1), lat_b))
    runner = CliRunner()
    refused = runner.invoke(main, ["leaderboard", "compare", lb, "0", "1", "--fail-on", "latency.p50:5%"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "refusing the gate latency.p50: " in refused.output and fragment in refused.output
    plain = runner.invoke(main, ["leaderboard", "compare", lb, "0", "1", "--fail-on", "fid:+1000000"])
    assert plain.exit_code == 0, plain.output  # quality gates still decide
    quiet = str(_leaderboard(tmp_path, _lat(0.1), _lat(0.2)))
    worse = runner.invoke(main, ["leaderboard", "compare", quiet, "0", "1", "--fail-on", "latency.p50:5%"])
    assert worse.exit_code == 1 and "GATE FAILED  latency.p50" in worse.output
