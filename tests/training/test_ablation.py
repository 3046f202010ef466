"""The ablation: scored like `evaluate`, paired statistics and claims, an end-to-end run, the committed report."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from filelock import FileLock
from scipy import stats

from ddmd_bench.cli import main
from ddmd_bench.metrics.functional import precision_recall
from ddmd_bench.report.ablation import table_markdown
from ddmd_bench.tracks.toy.ablation import (ARMS, EVAL_FORMAT, AblationConfig, AblationMismatch, Comparison, Interval,
                                          RunResult, judge, paired_difference, read_runs, render_report, results,
                                          write_identity)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "ablation"


def test_precision_recall_golden():
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[0.5], [20.0]])
    # k = 1: real radii 1, 1, 1, 8; fake radii 19.5, 19.5. Fake 0.5 lies in real ball of 0; 20 is 10 from the
    # nearest real point (radius 8): precision 1/2. Every real point is within 19.5 of 0.5: recall 1.
    assert precision_recall(real, fake, k=1) == (0.5, 1.0)
    same = np.random.default_rng(0).normal(size=(50, 4))
    assert precision_recall(same, same, k=3) == (1.0, 1.0)


# ------------------------------------------------------------------------------------ scored as `evaluate` scores
def test_a_snapshot_scores_exactly_as_evaluate_scores_the_same_student(tmp_path):
    """The shipped DMD2 student saved as an ablation snapshot: `ablation`'s scorer and `evaluate` agree exactly."""
    from safetensors.torch import save_file

    from ddmd_bench.evaluation.suite import EvaluationRequest, RunOptions, evaluate_suite
    from ddmd_bench.tracks.toy import shipped
    from ddmd_bench.tracks.toy.ablation import SnapshotScorer
    from ddmd_bench.tracks.toy.presets import get_preset

    torch.set_num_threads(1)
    state, _ = shipped.load_state_dict("dmd-4step")
    snap = tmp_path / "dmd2" / "seed-0" / "snapshots" / "step-000300.safetensors"
    snap.parent.mkdir(parents=True)
    save_file(state, str(snap))
    scored = SnapshotScorer(prompts=10).score(snap, get_preset("toy-dmd-4step"))
    outcome = evaluate_suite(EvaluationRequest(models=("dmd-4step",), limit=10, results_dir=tmp_path / "results",
                                               leaderboard_dir=None, force=True,
                                               run=RunOptions(batch_size=96, progress=False)))
    record = outcome.records[0].to_dict()
    assert scored["step"] == 300
    for name in ("fid", "prompt_accuracy", "prompt_accuracy_heldout", "clip_score", "image_reward"):
        assert scored["values"][name] == record["metrics"][name]["value"], name
    assert 0 <= scored["values"]["precision"] <= 1 and 0 <= scored["values"]["recall"] <= 1
    assert scored["values"]["output_std"] > 0


def test_the_combined_normaliser_divides_the_summed_direction_once():
    """`shared_cfg` on a decoupled schedule is one DMD2 normaliser on CA + DM (the hybrid-combined-norm arm)."""
    from ddmd_bench.training import functional as F
    from ddmd_bench.training.losses import DMDLoss, DMDLossConfig
    from tests.factories import tiny_flow_bundle

    teacher = tiny_flow_bundle(torch.float64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 3, 8, 8, generator=g, dtype=torch.float64)
    pred = {k: torch.randn(3, 3, 8, 8, generator=g, dtype=torch.float64)
            for k in ("cond_ca", "uncond_ca", "cond_dm", "fake_dm")}
    combined = DMDLoss(DMDLossConfig(schedule="decoupled-hybrid", normalization="shared_cfg", guidance=3.0), teacher)
    ca, dm = combined._directions(x, pred)
    direction = F.ca_direction(pred["cond_ca"], pred["uncond_ca"], 3.0) + F.dm_direction(pred["cond_dm"],
                                                                                           pred["fake_dm"])
    torch.testing.assert_close(ca + dm, F.normalise(direction, x, F.cfg_x0(pred["cond_ca"], pred["uncond_ca"], 3.0)))
    per_branch = DMDLoss(DMDLossConfig(schedule="decoupled-hybrid", guidance=3.0), teacher)
    assert not torch.allclose(sum(per_branch._directions(x, pred)), ca + dm)
    arm = ARMS.get("hybrid-combined-norm").config(seed=0, steps=10, snapshot_every=5)
    assert (arm.loss.schedule, arm.loss.normalization) == ("decoupled-hybrid", "shared_cfg")


def test_arms_and_their_paired_seed_plan():
    assert ARMS.get("hybrid-fake-lr-x2").config(1, 10, 5).lr_fake == 2 * ARMS.get("decoupled-hybrid").config(
        1, 10, 5).lr_fake
    assert ARMS.get("hybrid-ttur5").config(0, 10, 5).fake_updates == 5
    plan = AblationConfig().plan()
    assert len(plan) == 4 * 5 + 7 * 3
    assert plan[:len(ARMS.names())] == [(0, a) for a in ARMS.names()]  # seed-major: every arm before seed 1
    assert {a for s, a in plan if s == 4} == {"dmd2", "decoupled-full", "decoupled-constrained", "decoupled-hybrid"}


# ------------------------------------------------------------------------------------------------ statistics
def _runs(per_arm: dict[str, list[float]], metric="fid", diverged=()):
    return [RunResult(arm, seed, {300: {metric: v}}, arm in diverged) for arm, vals in per_arm.items()
            for seed, v in enumerate(vals)]


def test_paired_difference_uses_only_common_seeds_and_a_t_interval():
    runs = _runs({"dmd2": [10.0, 12.0, 11.0, 50.0], "decoupled-full": [8.0, 9.0, 9.5]})
    d = paired_difference(runs, "decoupled-full", "dmd2", "fid")
    diffs = [-2.0, -3.0, -1.5]
    assert d.n == 3 and d.mean == pytest.approx(np.mean(diffs))
    assert d.half == pytest.approx(stats.t.ppf(0.975, 2) * np.std(diffs, ddof=1) / math.sqrt(3))
    assert d.significant
    assert Interval.of([1.0]).half is None and not Interval.of([1.0]).significant
    assert not Interval.of([-1.0, 1.0, 0.5]).significant


def test_verdicts_agree_disagree_and_inconclusive():
    lower = Comparison("decoupled-full", "dmd2", "fid", "lower")
    assert lower.verdict(Interval(-2.0, 0.5, 5)) == "agree"
    assert lower.verdict(Interval(2.0, 0.5, 5)) == "disagree"
    assert lower.verdict(Interval(-2.0, 3.0, 5)) == "inconclusive"
    assert lower.verdict(Interval(-2.0, 0.5, 2)) == "inconclusive"  # too few paired seeds to decide


def test_a_collapse_claim_counts_divergences():
    runs = _runs({"ca-only": [0.1, 0.2, 0.15], "decoupled-hybrid": [0.1, 0.3, 0.1]}, "recall", diverged={"ca-only"})
    from ddmd_bench.tracks.toy.ablation import CLAIMS

    claim = next(c for c in CLAIMS if c.collapse_arm == "ca-only")
    out = judge(claim, runs)
    assert out["diverged"] == [3, 3] and out["verdict"] == "agree"
    assert judge(claim, _runs({"ca-only": [0.1, 0.2, 0.15], "decoupled-hybrid": [0.1, 0.3, 0.1]},
                              "recall"))["verdict"] == "inconclusive"


# -------------------------------------------------------------------------------------- end to end and report
def test_ablation_run_end_to_end_then_report(tmp_path):
    """2 arms x 2 seeds x 2 updates on an 8-prompt protocol: trained, scored, copied, reported; a re-run resumes; a
    run another process holds is skipped."""
    out, docs = tmp_path / "runs", tmp_path / "docs"
    args = ["ablation", "run", "--out", str(out), "--arms", "dmd2,decoupled-hybrid", "--seeds", "0,1", "--steps",
            "2", "--snapshot-every", "2", "--prompts", "8", "--batch-size", "4", "--threads", "1"]
    held = out / "dmd2" / "seed-1"
    held.mkdir(parents=True)
    with FileLock(str(held / ".run.lock")):  # as another `ablation run` process on the same folder holds it
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*/seed-*/eval.json"))) == 3 and [p.name for p in held.iterdir()] == [".run.lock"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    evals = sorted(out.glob("*/seed-*/eval.json"))
    assert len(evals) == 4
    first = json.loads(evals[0].read_text())
    assert first["format"] == EVAL_FORMAT and first["protocol"]["name"] == "toy-n8"
    assert set(first["snapshots"]) == {"step-000002.safetensors"}
    assert CliRunner().invoke(main, args).exit_code == 0  # resumes: nothing left to train or score
    assert json.loads(evals[0].read_text()) == first

    result = CliRunner().invoke(main, ["ablation", "report", "--out", str(out), "--to", str(docs)])
    assert result.exit_code == 0, result.output
    assert "copied 4 finished run(s)" in result.output
    assert {p.name for p in (docs / "runs" / "dmd2" / "seed-1").iterdir()} == {"eval.json", "log.jsonl"}
    data = json.loads((docs / "results.json").read_text())
    assert (data["finished_runs"], data["planned_runs"]) == (4, 4)
    hybrid = next(r for r in data["differences"] if r["arm"] == "decoupled-hybrid")
    assert hybrid["metrics"]["fid"]["n"] == 2
    assert (docs / "table.md").read_text() == table_markdown(data) + "\n"
    assert "| dmd2 | 2 of 5 (0) | 2 |" in (docs / "table.md").read_text()
    # the report rebuilds from the copied files alone
    shutil.rmtree(out)
    table = (docs / "table.md").read_text()
    assert CliRunner().invoke(main, ["ablation", "report", "--to", str(docs)]).exit_code == 0
    assert (docs / "table.md").read_text() == table
    # committed runs of the same teacher and config are not trained again in a new folder
    fresh = tmp_path / "fresh"
    result = CliRunner().invoke(main, [*args[:2], "--out", str(fresh), *args[4:], "--committed", str(docs / "runs")])
    assert result.exit_code == 0, result.output
    assert not list(fresh.glob("*/seed-*"))
    identity = json.loads((docs / "runs" / "ablation.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    (other / "ablation.json").write_text(json.dumps({**identity, "teacher_sha256": "b" * 64}))
    result = CliRunner().invoke(main, ["ablation", "report", "--out", str(other), "--to", str(docs)])
    assert result.exit_code != 0 and "report into another --to folder" in result.output


def test_committed_report_rebuilds_from_the_committed_runs(tmp_path):
    """docs/ablation/table.md and results.json are exactly what the committed run files give."""
    rebuilt = render_report(DOCS / "runs", tmp_path)
    assert (rebuilt / "table.md").read_text() == (DOCS / "table.md").read_text()
    assert json.loads((rebuilt / "results.json").read_text()) == json.loads((DOCS / "results.json").read_text())
    committed = read_runs(DOCS / "runs")
    assert results(DOCS / "runs")["finished_runs"] == len(committed)


def test_an_ablation_folder_is_tied_to_its_teacher(tmp_path):
    write_identity(tmp_path, AblationConfig(), "a" * 64)
    write_identity(tmp_path, AblationConfig(), "a" * 64)  # resuming with the same teacher is fine
    assert json.loads((tmp_path / "ablation.json").read_text())["teacher_sha256"] == "a" * 64
    with pytest.raises(AblationMismatch, match="teacher aaaaaaaaaaaa.*now bbbbbbbbbbbb; use a new --out folder"):
        write_identity(tmp_path, AblationConfig(), "b" * 64)


def test_report_without_runs_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["ablation", "report", "--out", str(tmp_path), "--to", str(tmp_path / "r")])
    assert result.exit_code != 0 and "no evaluated ablation runs" in result.output
    result = CliRunner().invoke(main, ["ablation", "report", "--to", str(tmp_path / "r")])
    assert result.exit_code != 0 and "ablation.json" in result.output


def test_unknown_arm_gets_did_you_mean(tmp_path):
    result = CliRunner().invoke(main, ["ablation", "run", "--out", str(tmp_path), "--arms", "dmd2,decoupled-hybird"])
    assert result.exit_code != 0 and "did you mean 'decoupled-hybrid'" in result.output


def test_unknown_preset_gets_did_you_mean():
    result = CliRunner().invoke(main, ["train", "toy-ddmd-4stpe"])
    assert result.exit_code != 0 and "did you mean 'toy-ddmd-4step'" in result.output
    result = CliRunner().invoke(main, ["train", "toy-ddmd-4step", "--set", "loss.schedul=coupled"])
    assert result.exit_code != 0 and "loss.schedule" in result.output
    result = CliRunner().invoke(main, ["train", "toy-ddmd-4step", "--set", "loss.schedule=decoupled-hybird"])
    assert result.exit_code != 0 and "decoupled-hybrid" in result.output


def test_report_marks_significance_only_from_enough_pairs():
    from ddmd_bench.report.ablation import difference_cell

    assert difference_cell({"mean": -2.0, "half": 0.5, "n": 3}, 1, min_pairs=3) == "**-2.0 [-2.5, -1.5]**"
    assert difference_cell({"mean": -2.0, "half": 0.5, "n": 2}, 1, min_pairs=3) == "-2.0 [-2.5, -1.5]"
    assert difference_cell({"mean": -2.0, "half": 3.0, "n": 5}, 1, min_pairs=3) == "-2.0 [-5.0, +1.0]"
    assert difference_cell({"mean": 1.0, "half": None, "n": 1}, 1) == "+1.0 (n=1)"
