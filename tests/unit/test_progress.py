"""Progress reports (ETA, plain lines off a terminal, quiet, rank 0 only), the sample needs of metrics checked
before generation, and progress from training loops and `stats make`."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ddmd_bench.evaluation import sample_needs
from ddmd_bench.metrics.base import MetricValue
from ddmd_bench.utils import progress
from ddmd_bench.utils.progress import Progress, eta_seconds, format_duration
from tests.factories import unit_protocol

ETA_LINE = re.compile(r"ETA (\d+ s|\d+ min \d\d s|\d+ h \d\d min)")


@pytest.fixture(autouse=True)
def _loud(monkeypatch):
    """Each test runs as rank 0 (or alone)."""
    monkeypatch.delenv("RANK", raising=False)


def test_eta_and_durations_golden():
    assert eta_seconds(10, 100, 5.0) == 45.0  # 5 s for 10 units: 90 more take 45 s
    assert eta_seconds(100, 100, 7.0) == 0.0
    assert eta_seconds(0, 100, 3.0) is None
    assert [format_duration(s) for s in (0.4, 42, 185, 7620, None)] == ["0 s", "42 s", "3 min 05 s", "2 h 07 min",
                                                                         "?"]


def test_plain_lines_report_count_values_and_eta_then_how_long_it_took():
    out = io.StringIO()  # not a terminal: plain lines
    bar = Progress(10, "train", "step", stream=out, interval_s=3600)
    bar.update(1, loss=0.5)
    bar.update(1, loss=0.25)  # within the interval: no line
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train: 1/10 step (10%) loss 0.5")
    assert ETA_LINE.search(lines[0])
    bar.interval_s = 0.0
    bar.update(1, loss=0.125)
    assert out.getvalue().splitlines()[1].startswith("train: 3/10 step (30%) loss 0.125")
    bar.close()
    assert re.fullmatch(r"train: 3/10 step done in \d+ s", out.getvalue().splitlines()[-1])


def test_a_resumed_loop_counts_from_where_it_was_and_estimates_from_its_own_rate():
    bar = Progress(10, "train", "step", initial=6, stream=io.StringIO())
    bar._t0 -= 4.0  # 4 s since the resumed loop started
    bar.update(2)
    line = bar.line()
    assert line.startswith("train: 8/10 step (80%)")
    eta = int(re.search(r"ETA (\d+) s", line)[1])
    assert 3 <= eta <= 5  # 2 steps in ~4 s, 2 left: ~4 s (not 8 steps' worth of rate)


def test_quiet_disabled_and_other_ranks_print_nothing(monkeypatch):
    out = io.StringIO()
    with Progress(3, "off", stream=out, enabled=False) as bar:
        bar.update(3)
    with progress.quieted(), Progress(3, "quiet", stream=out) as bar:
        bar.update(3)
    with progress.quieted(False), Progress(3, "not quieted", stream=io.StringIO()) as bar:
        assert bar.enabled
    monkeypatch.setenv("RANK", "1")
    with Progress(3, "rank 1", stream=out) as bar:
        bar.update(3)
    assert out.getvalue() == ""
    monkeypatch.setenv("RANK", "0")
    with Progress(3, "rank 0", stream=out) as bar:
        bar.update(3)
    assert out.getvalue().startswith("rank 0: 3/3")


def test_a_terminal_gets_a_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    with Progress(4, "gen", "img", stream=out) as bar:
        bar.update(2, loss=0.5)
        bar._bar.refresh()  # tqdm redraws at most every 0.1 s by itself
        drawn = out.getvalue().split("\r")[-1]
    assert drawn.startswith("gen:  50%") and " 2/4 [" in drawn and "<" in drawn and "loss=0.5" in drawn


# ------------------------------------------------------------------------------------------------- sample needs

class _Metric:
    def __init__(self, name="fid", spec=None):
        self.name, self._spec = name, spec or {}

    def spec(self):
        return self._spec


class _Subset(_Metric):
    def scores_prompt(self, prompt: str) -> bool:
        return prompt.startswith("held-out")


def test_interval_needs_golden():
    # the smallest n with n^-n < (1 - level) / 2: 3^-3 = 0.037 >= 0.025, 4^-4 = 0.0039 < 0.025
    assert sample_needs.interval_min_n(0.95) == 4
    assert sample_needs.interval_min_n(0.5) == 3  # 2^-2 = 0.25 is not below 0.25
    assert sample_needs.value_min_n("fid", {}) == 2 and sample_needs.value_min_n("kid", {}) == 2
    assert sample_needs.value_min_n("precision", {"k": 5}) == 6 and sample_needs.value_min_n("recall", {}) == 4
    assert sample_needs.value_min_n("clip_score", {}) == 1 and sample_needs.value_min_n("a paper's score", {}) == 1


def test_too_few_samples_are_refused_naming_the_metric_and_the_smallest_limit():
    def check(metrics, prompts, built=None):
        sample_needs.check(unit_protocol(metrics=metrics), prompts, built)

    with pytest.raises(ValueError, match=r"protocol unit: metric fid needs at least 2 sample\(s\) and 1 prompt\(s\) "
                                         r"give it 1: use --limit 2 or more"):
        check({"fid": {}}, ["a"])  # from the specs alone: nothing built yet
    with pytest.raises(ValueError, match=r"metric recall needs at least 6 .* use --limit 6"):
        check({"recall": {"k": 5}, "clip_score": {}}, ["a"] * 3)
    with pytest.raises(ValueError, match=r"metric heldout scores a subset .* hold 0: use --limit 4 or more"):
        check({"heldout": {}}, ["held-in"] * 3, {"heldout": _Subset("heldout")})
    check({"fid": {}, "heldout": {}}, ["held-in", "held-out x"], {"fid": _Metric(), "heldout": _Subset("heldout")})


def test_an_interval_from_too_few_samples_is_left_out_with_the_reason():
    short = sample_needs.without_short_interval(MetricValue(0.5, 3, 0.1, 0.9, details={"k": 1}))
    assert (short.ci_low, short.ci_high) == (None, None) and short.details["k"] == 1
    assert short.details["interval"] == "not shown: 3 sample(s), and an interval at 95% needs at least 4"
    enough = MetricValue(0.5, 4, 0.1, 0.9)
    assert sample_needs.without_short_interval(enough) is enough


# ------------------------------------------------------------------------------------------- training, stats make

def test_toy_teacher_training_reports_step_loss_step_time_and_eta(tmp_path, capsys):
    from ddmd_bench.tracks.toy.models import TeacherConfig, TransformerConfig
    from ddmd_bench.tracks.toy.teacher_training import TeacherTrainConfig, train

    small = TeacherConfig(TransformerConfig(num_layers=1, attention_head_dim=8, num_attention_heads=2,
                                            caption_projection_dim=16))
    cfg = TeacherTrainConfig(model=small, steps=2, batch_size=2, warmup_steps=1, save_every=2)
    train(cfg, tmp_path)
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith("train teacher: 1/2 step (50%) loss ") and " step_s " in first and ETA_LINE.search(first)
    assert "train teacher: 2/2 step done in" in err
    train(cfg, tmp_path / "quiet", progress=False)
    assert capsys.readouterr().err == ""


def test_distillation_reports_progress_and_quiet_silences_it(tmp_path, capsys):
    from ddmd_bench.training.trainer import Trainer
    from tests.factories import tiny_flow_bundle
    from tests.training.resume_job import CFG

    cfg = CFG.with_overrides(steps=2, save_every=2)
    Trainer(cfg, tmp_path / "a", teacher=tiny_flow_bundle(), prompts=lambda step, n: ["p"] * n).run()
    err = capsys.readouterr().err
    assert re.search(r"^train: 1/2 step \(50%\) loss \S+ step_s \S+, .*ETA ", err, re.MULTILINE), err
    with progress.quieted():
        Trainer(cfg, tmp_path / "b", teacher=tiny_flow_bundle(), prompts=lambda step, n: ["p"] * n).run()
    assert "train:" not in capsys.readouterr().err


def test_stats_make_reports_images_and_quiet_silences_it(tmp_path):
    from ddmd_bench.cli import main

    folder = tmp_path / "real"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    args = ["stats", "make", str(folder), "--extractor", "toy", "--batch-size", "2"]
    loud = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a.npz")], catch_exceptions=False)
    assert loud.exit_code == 0, loud.output
    assert re.search(r"^stats make: 2/5 img \(40%\), .*ETA ", loud.stderr, re.MULTILINE), loud.stderr
    assert "stats make: 5/5 img done in" in loud.stderr
    quiet = CliRunner().invoke(main, [*args, "--quiet", "--out", str(tmp_path / "b.npz")], catch_exceptions=False)
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_prompt_accuracy_tells_which_prompts_its_subset_scores():
    from ddmd_bench.metrics.prompt_accuracy import PromptAccuracy

    def parse(prompt):
        return dict(part.split("=") for part in prompt.split())

    metric = PromptAccuracy("heldout", None, parse, lambda wanted: wanted.get("shape") == "star", {}, ("shape",))
    assert isinstance(metric, sample_needs.ScoresSubset)
    prompts = ["shape=circle", "shape=star", "shape=square", "shape=star"]
    assert sample_needs.scored_positions(metric, prompts) == [2, 4]
    with pytest.raises(ValueError, match=r"metric heldout scores a subset .* hold 0: use --limit 2 or more"):
        sample_needs.check(unit_protocol(metrics={"heldout": {}}), prompts[:1], {"heldout": metric})


def test_the_toy_scoring_models_report_training_progress(capsys):
    from ddmd_bench.tracks.toy.fitting import fit

    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 2)
    fit(model, opt, 3, lambda step: model(x).pow(2).mean(), "probe")
    err = capsys.readouterr().err
    assert re.search(r"^train probe: 1/3 step \(33%\) loss \S+ step_s \S+", err, re.MULTILINE), err
    assert "train probe: 3/3 step done in" in err
    with progress.quieted():
        fit(model, opt, 2, lambda step: model(x).pow(2).mean(), "probe")
    assert capsys.readouterr().err == ""
