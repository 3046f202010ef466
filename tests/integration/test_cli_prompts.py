"""`ddmd-bench evaluate --prompts FILE`: a user's prompt file is its own reference-free protocol, run end to end by
the command line with its own leaderboard file; `--geneval-out` writes GenEval's folder layout of a run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.leaderboard import store
from ddmd_bench.protocols import PROTOCOLS
from ddmd_bench.tracks.literature import prompt_sets
from tests.unit.test_prompt_sets import FIXTURES, _read_like_genevals_scorer, _tiny_backends

TOY_MODEL = "teacher:steps=1"  # the toy teacher draws 16 px images
SIZE = "16"


@pytest.fixture(autouse=True)
def tiny_metrics(monkeypatch):
    """The prompt-set metrics on tiny CLIP and ImageReward models (the real weights are not on a test machine);
    protocols registered by a test go when it ends."""
    monkeypatch.setattr(PROTOCOLS, "_entries", dict(PROTOCOLS._entries))
    build = prompt_sets.PromptSetContext.build_metrics
    monkeypatch.setattr(prompt_sets.PromptSetContext, "build_metrics",
                        lambda self, protocol: build(dataclasses.replace(self, backends=_tiny_backends()), protocol))


def _evaluate(tmp_path, *args):
    return CliRunner().invoke(main, ["evaluate", "--results-dir", str(tmp_path / "results"), "--leaderboard-dir",
                                     str(tmp_path / "lb"), "--quiet", "--model", TOY_MODEL, *args])


@pytest.mark.parametrize("fixture,fmt", [("parti.tsv", None), ("drawbench.csv", "drawbench")])
def test_a_prompt_file_runs_end_to_end_with_its_own_leaderboard(tmp_path, fixture, fmt):
    path = FIXTURES / fixture
    result = _evaluate(tmp_path, "--prompts", str(path), "--resolution", SIZE, "--json",
                       *(("--format", fmt) if fmt else ()))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    name = f"prompts-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}-{SIZE}"
    assert out["protocol"]["name"] == name and out["added"] == 1 and out["failed"] == []
    header, entries = store.read(tmp_path / "lb" / f"{name}-v1.jsonl")
    assert header["fingerprint"] == out["protocol"]["fingerprint"]
    metrics = entries[0].record["metrics"]
    assert set(metrics) == {"clip_score", "image_reward"}
    n = len(prompt_sets.prompt_file_protocol(path, fmt)[1].prompt_set.prompts)
    assert all(m["status"] == "ok" and m["n"] == n for m in metrics.values())


def test_prompt_file_options_are_checked(tmp_path):
    both = _evaluate(tmp_path, "--prompts", str(FIXTURES / "parti.tsv"), "--protocol", "toy")
    assert both.exit_code != 0 and "either --protocol or --prompts" in both.output
    unknown = _evaluate(tmp_path, "--prompts", str(FIXTURES / "parti.tsv"), "--format", "parti")
    assert unknown.exit_code != 0 and "'parti' is not one of" in unknown.output
    unguessable = _evaluate(tmp_path, "--prompts", str(FIXTURES / "mjhq.json"))
    assert unguessable.exit_code != 0 and "cannot guess the format from '.json'" in unguessable.output
    alone = _evaluate(tmp_path, "--format", "txt")
    assert alone.exit_code != 0 and "give the file too" in alone.output
    toy = _evaluate(tmp_path, "--geneval-out", str(tmp_path / "g"), "--limit", "5")
    assert toy.exit_code != 0 and "--geneval-out needs a GenEval protocol" in toy.output


def test_geneval_out_writes_genevals_layout_of_the_run(tmp_path, monkeypatch):
    unpinned = dataclasses.replace(prompt_sets.GENEVAL, n_prompts=None,  # the fixture is not the pinned file
                                   prompts=dataclasses.replace(prompt_sets.GENEVAL.prompts, sha256=None))
    PROTOCOLS._entries["geneval"] = prompt_sets.PromptSetEntry(unpinned, int(SIZE))
    result = _evaluate(tmp_path, "--protocol", "geneval", "--data", f"prompts={FIXTURES / 'geneval.jsonl'}",
                       "--limit", "8", "--geneval-out", str(tmp_path / "geneval"))
    assert result.exit_code == 0, result.output
    read = _read_like_genevals_scorer(tmp_path / "geneval")
    rows = [json.loads(line) for line in (FIXTURES / "geneval.jsonl").read_text().splitlines()][:2]
    assert [m for m, _ in read] == rows  # 8 images = 2 prompts x 4 samples
    images = sorted((tmp_path / "results").rglob("images/*.png"))
    assert len(images) == 8
    assert [p.read_bytes() for _, samples in read for p in samples] == [p.read_bytes() for p in images]


def test_dry_run_lists_the_recipes_and_the_metrics_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(main, ["evaluate", "--dry-run", "--json", "--method", "dmd2-sdxl-4step",
                                       "--prompts", str(FIXTURES / "parti.tsv")])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["download_plan"]
    assert plan["repos"] == ["stabilityai/stable-diffusion-xl-base-1.0", "tianweiy/DMD2",
                             "timm/vit_large_patch14_clip_224.openai", "THUDM/ImageReward",
                             "google-bert/bert-base-uncased"]
    assert "hf download THUDM/ImageReward ImageReward.pt med_config.json" in plan["commands"]
