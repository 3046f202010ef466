"""Ablation report from evaluated runs (synthetic evaluations; the training path is covered elsewhere)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from ddmd_bench.cli import main
from ddmd_bench.metrics.functional import precision_recall
from ddmd_bench.training.ablation import collect, final_table, mean_ci, render_report


def test_precision_recall_golden():
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[0.5], [20.0]])
    # k = 1: real radii 1, 1, 1, 8; fake radii 19.5, 19.5. Fake 0.5 lies in real ball of 0; 20 is 10 from the
    # nearest real point (radius 8): precision 1/2. Every real point is within 19.5 of 0.5: recall 1.
    assert precision_recall(real, fake, k=1) == (0.5, 1.0)
    same = np.random.default_rng(0).normal(size=(50, 4))
    assert precision_recall(same, same, k=3) == (1.0, 1.0)


def _write(folder, arm, seed, curve):
    d = folder / arm / f"seed-{seed}"
    d.mkdir(parents=True)
    (d / "eval.json").write_text(json.dumps({f"step-{step:06d}.safetensors": values for step, values in curve}))


def _values(acc, fid):
    return {"accuracy": acc, "accuracy_heldout": acc / 2, "fid": fid, "precision": 0.5, "recall": 0.4,
            "pixel_std": 0.5, "pixel_mean": 0.0}


def test_report_table_has_t_intervals_over_seeds(tmp_path):
    accs = [0.6, 0.7, 0.8]
    for seed, acc in enumerate(accs):
        _write(tmp_path, "toy-ddmd-4step", seed, [(50, _values(acc / 2, 900)), (100, _values(acc, 800 + seed))])
    _write(tmp_path, "toy-dmd-4step", 0, [(50, _values(0.3, 1000)), (100, _values(0.4, 950))])
    rows = {r["arm"]: r for r in final_table(collect(tmp_path))}
    m, h = rows["toy-ddmd-4step"]["accuracy"]
    assert m == pytest.approx(0.7)
    assert h == pytest.approx(stats.t.ppf(0.975, 2) * np.std(accs, ddof=1) / math.sqrt(3))
    assert rows["toy-ddmd-4step"]["step"] == 100 and rows["toy-dmd-4step"]["seeds"] == 1
    assert math.isnan(mean_ci([1.0])[1])
    target = render_report(tmp_path, tmp_path / "report")
    table = (target / "table.md").read_text()
    assert "| toy-ddmd-4step | 3 (0) | 100 | 0.700 ± 0.248" in table
    assert (target / "curves.png").stat().st_size > 10_000


def test_an_ablation_folder_is_tied_to_its_teacher(tmp_path):
    from ddmd_bench.training.ablation import AblationConfig, AblationMismatch, write_identity

    write_identity(tmp_path, AblationConfig(), "a" * 64)
    write_identity(tmp_path, AblationConfig(), "a" * 64)  # resuming with the same teacher is fine
    assert json.loads((tmp_path / "ablation.json").read_text())["teacher_sha256"] == "a" * 64
    with pytest.raises(AblationMismatch, match="teacher aaaaaaaaaaaa.*now bbbbbbbbbbbb; use a new --out folder"):
        write_identity(tmp_path, AblationConfig(), "b" * 64)


def test_report_without_runs_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["ablation", "report", "--out", str(tmp_path), "--to", str(tmp_path / "r")])
    assert result.exit_code != 0 and "no evaluated ablation runs" in result.output


def test_unknown_preset_gets_did_you_mean():
    result = CliRunner().invoke(main, ["train", "toy-ddmd-4stpe"])
    assert result.exit_code != 0 and "did you mean 'toy-ddmd-4step'" in result.output
    result = CliRunner().invoke(main, ["train", "toy-ddmd-4step", "--set", "loss.schedul=coupled"])
    assert result.exit_code != 0 and "loss.schedule" in result.output
    result = CliRunner().invoke(main, ["train", "toy-ddmd-4step", "--set", "loss.schedule=decoupled-hybird"])
    assert result.exit_code != 0 and "decoupled-hybrid" in result.output
