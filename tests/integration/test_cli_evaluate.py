"""`ddmd-bench evaluate` end to end on a tiny configuration, and its bad-input behaviour."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.leaderboard import store


def _evaluate(tmp_path, *args):
    return CliRunner().invoke(main, ["evaluate", "--results-dir", str(tmp_path / "results"), "--leaderboard-dir",
                                     str(tmp_path / "lb"), "--quiet", *args], catch_exceptions=False)


def test_tiny_evaluate_writes_records_and_a_valid_leaderboard(tmp_path):
    result = _evaluate(tmp_path, "--model", "teacher:steps=2", "--model", "teacher:steps=1,guidance=3",
                       "--limit", "10", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["protocol"]["name"] == "toy-n10" and out["added"] == 2 and out["failed"] == []
    for row in out["results"]:
        assert row["fid"] > 0 and 0 <= row["prompt_accuracy"] <= 1 and 0 <= row["prompt_accuracy_heldout"] <= 1
        assert row["latency_ms"] > 0 and row["clip_score"] is not None
    assert [r["nfe"] for r in out["results"]] == [2, 2]
    header, entries = store.read(tmp_path / "lb" / "toy-n10-v1.jsonl")
    assert len(entries) == 2 and header["protocol"]["prompt_set"]["n"] == 10
    record = entries[0].record
    # diffusers FlowMatchEuler spaces sigmas linearly from 1 to its sigma_min (0.001): 2 steps -> t = 1000, 1
    assert record["generator"]["timesteps"] == [1000.0, 1.0] and record["generator"]["guidance"] == 1.0
    assert len(record["metrics"]["clip_score"]["per_sample"]) == 10
    acc = record["metrics"]["prompt_accuracy"]["per_sample"]
    assert [a is None for a in acc] == [i % 5 == 4 for i in range(10)]  # held-out prompts scored separately
    assert record["metrics"]["fid"]["spec"]["weights_sha256"] == header["protocol"]["metrics"]["fid"]["weights_sha256"]
    assert (tmp_path / "results" / "toy-n10-v1" / "toy-teacher_euler-2_nocfg.json").exists()


def test_rerun_reuses_finished_results(tmp_path):
    first = _evaluate(tmp_path, "--model", "teacher:steps=1", "--limit", "5", "--json")
    second = _evaluate(tmp_path, "--model", "teacher:steps=1", "--limit", "5", "--json")
    assert first.exit_code == second.exit_code == 0
    one, two = json.loads(first.output), json.loads(second.output)
    assert two["reused"] == ["toy-teacher/euler-1/nocfg"] and two["added"] == 0
    assert one["results"] == two["results"]


def test_table_output_has_every_column(tmp_path):
    result = _evaluate(tmp_path, "--model", "teacher:steps=1", "--limit", "5")
    assert result.exit_code == 0, result.output
    for column in ("generator", "NFE", "FID (toy)", "CLIP", "acc held-in", "acc held-out", "ms/img"):
        assert column in result.output


def test_unknown_protocol_gets_did_you_mean(tmp_path):
    result = _evaluate(tmp_path, "--protocol", "tyo")
    assert result.exit_code != 0 and "did you mean 'toy'" in result.output


def test_unknown_model_gets_did_you_mean(tmp_path):
    result = _evaluate(tmp_path, "--model", "toy-teachr/euler-4/cfg3")
    assert result.exit_code != 0 and "did you mean" in result.output and "toy-teacher/euler-4/cfg3" in result.output


def test_unknown_scheduler_is_refused(tmp_path):
    result = _evaluate(tmp_path, "--model", "teacher:scheduler=flow-eular")
    assert result.exit_code != 0 and "did you mean 'flow-euler'" in result.output


def test_corrupted_metric_weights_fail_before_generation_and_write_nothing(tmp_path, weights_copy):
    path = weights_copy / "clip.safetensors"
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    result = _evaluate(tmp_path, "--model", "teacher:steps=1", "--limit", "5")
    assert result.exit_code != 0
    assert "clip.safetensors" in result.output and "ddmd-bench train clip --track toy" in result.output
    assert not (tmp_path / "lb").exists() and not (tmp_path / "results").exists()


def test_missing_teacher_weights_name_the_file(tmp_path, weights_copy):
    (weights_copy / "teacher.safetensors").unlink()
    result = _evaluate(tmp_path, "--model", "teacher:steps=1", "--limit", "5")
    assert result.exit_code != 0 and "teacher.safetensors" in result.output
    assert "ddmd-bench train teacher --track toy" in result.output and not (tmp_path / "lb").exists()


@pytest.mark.parametrize("command", [["--help"], ["evaluate", "--help"], ["train", "--help"],
                                     ["leaderboard", "--help"], ["methods", "--help"], ["prompts", "--help"]])
def test_help_has_examples(command):
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0 and "Example" in result.output
