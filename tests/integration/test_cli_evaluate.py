"""`ddmd-bench evaluate` end to end on a tiny configuration, and its bad-input behaviour."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.leaderboard import store
from ddmd_bench.tracks.toy.track import toy_protocol

SLUG10 = toy_protocol(10)[0].slug  # e.g. toy-n10-v3: results and leaderboard file names


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
    header, entries = store.read(tmp_path / "lb" / f"{SLUG10}.jsonl")
    assert len(entries) == 2 and header["protocol"]["prompt_set"]["n"] == 10
    record = entries[0].record
    # diffusers FlowMatchEuler spaces sigmas linearly from 1 to its sigma_min (0.001): 2 steps -> t = 1000, 1
    assert record["generator"]["timesteps"] == [1000.0, 1.0] and record["generator"]["guidance"] == 1.0
    assert len(record["metrics"]["clip_score"]["per_sample"]) == 10
    acc = record["metrics"]["prompt_accuracy"]["per_sample"]
    assert [a is None for a in acc] == [i % 5 == 4 for i in range(10)]  # held-out prompts scored separately
    assert record["metrics"]["fid"]["spec"]["weights_sha256"] == header["protocol"]["metrics"]["fid"]["weights_sha256"]
    assert (tmp_path / "results" / SLUG10 / "toy-teacher_euler-2_nocfg.json").exists()


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
    for column in ("generator", "NFE", "FID", "CLIP", "acc held-in", "acc held-out", "ms/img"):
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


def test_leaderboard_commands_on_a_real_toy_leaderboard(tmp_path):
    assert _evaluate(tmp_path, "--model", "teacher:steps=1", "--model", "teacher:steps=2", "--limit", "10",
                     "--quiet").exit_code == 0
    lb = str(tmp_path / "lb" / f"{SLUG10}.jsonl")
    runner = CliRunner()
    show = runner.invoke(main, ["leaderboard", "show", lb, "--sort", "prompt_accuracy"])
    assert show.exit_code == 0 and "toy-teacher/euler-1/nocfg" in show.output and "[" in show.output
    cmp_ = runner.invoke(main, ["leaderboard", "compare", lb, "toy-teacher/euler-1/nocfg", "toy-teacher/euler-2/nocfg",
                                "--json"])
    assert cmp_.exit_code == 0, cmp_.output
    found = {c["metric"]: c for c in json.loads(cmp_.output)["comparisons"]}
    assert found["clip_score"]["method"].startswith("paired bootstrap over 10")
    assert found["prompt_accuracy"]["method"].startswith("paired bootstrap over 8")  # 2 of 10 are held-out
    assert found["fid"]["method"] == "normal interval from both CIs"
    # With a zero tolerance, exactly one direction of the comparison regresses on FID; a huge tolerance passes.
    codes = [runner.invoke(main, ["leaderboard", "compare", lb, a, b, "--fail-on", "fid:+0"]).exit_code
             for a, b in (("0", "1"), ("1", "0"))]
    assert sorted(codes) == [0, 1]
    # (latency gates are tested on fixed numbers: these were measured on a possibly busy machine)
    loose = runner.invoke(main, ["leaderboard", "compare", lb, "0", "1", "--fail-on", "fid:+1000000"])
    assert loose.exit_code == 0 and "GATE FAILED" not in loose.output
    unknown = runner.invoke(main, ["leaderboard", "compare", lb, "toy-teacher/euler-3/nocfg", "0"])
    assert unknown.exit_code != 0 and "did you mean" in unknown.output
    md = runner.invoke(main, ["leaderboard", "render", lb])
    assert md.exit_code == 0 and md.output.startswith("| origin | generator | NFE | FID |")
    html = runner.invoke(main, ["leaderboard", "render", lb, "--format", "html", "--out", str(tmp_path / "p.html")])
    assert html.exit_code == 0 and (tmp_path / "p.html").read_text().startswith("<!DOCTYPE html>")
    png = runner.invoke(main, ["leaderboard", "render", lb, "--format", "png", "--out", str(tmp_path / "png")])
    assert png.exit_code == 0
    for kind in ("latency", "steps"):
        assert (tmp_path / "png" / f"{SLUG10}-{kind}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_reported_results_into_their_own_protocols(tmp_path):
    runner = CliRunner()
    first = runner.invoke(main, ["leaderboard", "import", "--reported", "--dir", str(tmp_path)])
    again = runner.invoke(main, ["leaderboard", "import", "--reported", "--dir", str(tmp_path)])
    assert first.exit_code == again.exit_code == 0 and "0 new of 7" in again.output
    header, entries = store.read(tmp_path / "paper-ddmd-sdxl-coco10k-v1.jsonl")
    values = {e.record["generator"]["name"]: e.record["metrics"]["fid"]["value"] for e in entries}
    assert values["Decoupled DMD (SDXL, 4-step)"] == 17.80 and values["DMD2 (SDXL, 4-step)"] == 18.95
    assert all(e.origin == "reported" for e in entries) and header["protocol"]["track"] == "reported"
    gate = store.read(tmp_path / "mlperf-sdxl-5k-gate-v1.jsonl")[1][0].record["metrics"]
    assert (gate["fid"]["ci_low"], gate["fid"]["ci_high"]) == (23.01085758, 23.95007626)
    assert len(list(tmp_path.glob("*.jsonl"))) == 7  # one file per source protocol, never mixed


def test_literature_protocol_data_files_are_checked_before_anything_runs(tmp_path):
    from tests.conftest import SHARED_DATA

    wrong = tmp_path / "captions.txt"
    wrong.write_text("a photo of a cat\na photo of a dog\n")
    result = _evaluate(tmp_path, "--protocol", "coco30k-256", "--data", f"captions={wrong}", "--data",
                       f"reference_stats={tmp_path / 'none.npz'}", "--method", "sd15")
    assert result.exit_code != 0 and f"'captions' = {wrong} has sha256" in result.output
    assert "expected edabd2a556026cbf5d36a5fffa35ad43d7ba71b72f6d640b727c1edefb7f1945" in result.output
    result = _evaluate(tmp_path, "--protocol", "coco30k-256", "--method", "sd15")
    assert result.exit_code != 0 and "needs its prompts from data file 'captions' or 'coco_captions'" in result.output
    result = _evaluate(tmp_path, "--data", "captions")
    assert result.exit_code != 0 and "expected KEY=PATH" in result.output
    if (SHARED_DATA / "captions_coco14_test.txt").exists():
        result = _evaluate(tmp_path, "--protocol", "coco30k-256", "--data",
                           f"captions={SHARED_DATA / 'captions_coco14_test.txt'}", "--method", "sd15")
        assert result.exit_code != 0 and "needs data file 'reference_stats'" in result.output
    assert not (tmp_path / "results").exists()  # nothing was generated or written
