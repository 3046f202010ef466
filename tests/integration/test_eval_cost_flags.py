"""What a run costs and reports: progress with ETA on stderr (silenced by --quiet), --dry-run's estimate from
denoiser calls x a measured per-call cost, --latency-rounds and --no-latency, and a prompt list too short for a
metric refused before any image is generated."""

from __future__ import annotations

import json
import re

import pytest
import torch
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.evaluation import runner
from ddmd_bench.leaderboard import compare, table
from ddmd_bench.prompts import PromptSet
from ddmd_bench.tracks.toy.track import toy_protocol
from tests.factories import unit_protocol

SLUG = toy_protocol(5)[0].slug
MODEL = ["--model", "teacher:steps=1", "--limit", "5", "--batch-size", "3", "--no-leaderboard"]


def _evaluate(results, *args):
    return CliRunner().invoke(main, ["evaluate", "--results-dir", str(results), *MODEL, *args],
                              catch_exceptions=False)


def _record(results) -> dict:
    (path,) = (results / SLUG).glob("*nocfg.json")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def no_latency(tmp_path_factory):
    results = tmp_path_factory.mktemp("no-latency")
    result = _evaluate(results, "--no-latency", "--json")
    assert result.exit_code == 0, result.output
    return results, result


def test_progress_reports_generation_and_scoring_with_an_eta_on_stderr(no_latency):
    _, result = no_latency
    err = result.stderr
    assert re.search(r"^toy-teacher/euler-1/nocfg: generate \+ score: 3/5 img \(60%\) generate_s \S+ score_s \S+, "
                     r".*ETA \d+ s", err, re.MULTILINE), err
    assert re.search(r"^compute metrics: \d+/\d+ metric .*ETA", err, re.MULTILINE) and "compute metrics: " in err
    assert "latency:" not in err  # nothing measured, nothing reported
    json.loads(result.stdout)  # progress never mixes into the JSON on stdout


def test_no_latency_records_that_latency_was_not_measured(no_latency):
    results, result = no_latency
    record = _record(results)
    assert record["latency"]["measured"] is False and "median" not in record["latency"]
    assert "cold_start" not in record["latency"] and "device" not in record["latency"]
    row = json.loads(result.stdout)["results"][0]
    assert row["latency_ms"] is None and row["hardware"] is None
    header = {"protocol": record["protocol"], "fingerprint": record["protocol"]["fingerprint"]}
    assert "[no latency measured]" in table.render_text([table.row(record)], header)
    measured = {**record, "latency": {"median": 0.5, "device": {"name": "cpu"}}}
    assert [c.metric for c in compare.compare_records(record, measured)] == list(record["metrics"])  # no latency row


def test_latency_rounds_and_quiet(tmp_path):
    result = _evaluate(tmp_path, "--latency-rounds", "2", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    latency = _record(tmp_path)["latency"]
    assert latency["measured"] is True and latency["rounds"] == 2 and latency["median"] > 0
    assert latency["protocol_rounds"] == toy_protocol(5)[0].latency["rounds"] != 2
    assert latency["cold_start"]["seconds"] > 0

    # a later dry run takes its per-call cost from this run (same generator, same hardware) and says so
    plan = json.loads(_evaluate(tmp_path, "--dry-run", "--json", "--limit", "6").stdout)
    entry = plan["generators"][0]
    assert entry["cost_source"].startswith("earlier run of ") and "5 images x 1 calls at batch 3" in entry["cost_source"]
    assert entry["seconds_per_denoiser_call"] == pytest.approx(
        _record(tmp_path)["timings"]["generation_s"] / 5)
    assert entry["estimated_generation_s"] == round(6 * entry["seconds_per_denoiser_call"], 1)


def test_dry_run_estimates_from_a_timed_call_and_runs_nothing(tmp_path):
    result = _evaluate(tmp_path, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["generators"][0]
    assert entry["cost_source"].startswith("measured on this machine: one image (1 calls, batch 1) in ")
    assert entry["seconds_per_denoiser_call"] > 0 and entry["estimated_generation_s"] >= 0
    warmup, rounds = (toy_protocol(5)[0].latency[k] for k in ("warmup", "rounds"))
    assert entry["estimated_latency_s"] == round((warmup + rounds) * entry["seconds_per_denoiser_call"], 1)
    assert not (tmp_path / SLUG).exists()
    text = _evaluate(tmp_path, "--dry-run", "--no-latency").stdout
    assert re.search(r"5 denoiser passes  ~\d+ s generation \([\d.e+]+ ms per call, measured on this machine", text)


class _NeverGenerates:
    name, nfe = "never", 1

    def generate(self, prompts, seeds):
        raise AssertionError("generated although the run was refused")

    def describe(self):
        return {"name": self.name}


class _OnePrompt:
    prompt_set = PromptSet("one", 1, ("a red circle",))

    def build_metrics(self, protocol):
        raise AssertionError("metrics built (weights loaded) although the run was refused")


def test_a_prompt_list_too_short_for_a_metric_is_refused_before_any_weights_or_image(tmp_path):
    protocol = unit_protocol(metrics={"fid": {}})
    with pytest.raises(ValueError, match=r"protocol unit: metric fid needs at least 2 sample\(s\) and 1 prompt\(s\) "
                                         r"give it 1: use --limit 2 or more"):
        runner.run_checked(_NeverGenerates(), protocol, _OnePrompt(), runner.RunnerOptions(
            batch_size=1, device=torch.device("cpu"), work_dir=tmp_path / "work", progress=False))
    assert not (tmp_path / "work").exists()


def test_help_documents_the_limit_rule_and_the_latency_flags():
    text = " ".join(CliRunner().invoke(main, ["evaluate", "--help"]).output.split())
    assert "refused before any image is generated" in text and "--latency-rounds" in text and "--no-latency" in text


def test_a_latency_gate_or_figure_on_an_unmeasured_latency_is_refused_by_name(no_latency):
    from ddmd_bench.report import fmt

    record = _record(no_latency[0])
    measured = {**record, "latency": {"median": 0.5, "p90": 0.6, "device": {"name": "cpu"}}}
    for a, b, who in ((record, measured, "for A "), (measured, record, "for B "), (record, record, "for A and B")):
        with pytest.raises(compare.GateRefused, match=f"latency was not measured {who}"):
            compare.Gate.parse("latency.p50:5%").check(a, b)
    with pytest.raises(ValueError, match="latency was not measured"):
        fmt.ms(record)
    assert fmt.ms(measured) == 500.0
