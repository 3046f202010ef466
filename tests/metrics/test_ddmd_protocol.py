"""The Decoupled DMD SDXL protocol (ddmd-sdxl-coco10k): what `evaluate --dry-run` lists before any file is given,
the protocol it builds from synthetic files (FID, CLIP, ImageReward and HPSv2.1 x 100), and the paper's numbers
filed under its own `reported` protocol. Offline, no weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddmd_bench.metrics import catalog
from ddmd_bench.protocols import describe, get_protocol
from ddmd_bench.tracks.literature import datafiles
from ddmd_bench.tracks.literature.reported import reported_sets
from ddmd_bench.tracks.literature.scores import SCORES
from ddmd_bench.tracks.literature.specs import SPECS
from tests.factories import write_stats

NAME = "ddmd-sdxl-coco10k"


@pytest.fixture(autouse=True)
def four_dimensional_features(monkeypatch):
    """The synthetic statistics below are 4-d; the protocol's Inception gives 2048-d features."""
    from ddmd_bench.tracks.literature import reference_stats as references

    monkeypatch.setattr(references, "FEATURE_DIMS", {name: 4 for name in references.FEATURE_DIMS})


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "hub"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ddmd-data")
    captions = d / "coco10k_prompts.txt"
    captions.write_text("".join(f"a synthetic caption number {i}\n" for i in range(10_000)), encoding="utf-8")
    return {"captions": captions, "reference_stats": write_stats(d / "ddmd-fid.npz", NAME, "fid")}


def _cli():
    from ddmd_bench.cli import main

    return main


def test_dry_run_without_data_lists_every_data_file_and_weight_file(empty_hub):
    result = CliRunner().invoke(_cli(), ["evaluate", "--protocol", NAME, "--dry-run"])
    assert result.exit_code != 0
    out = result.output
    for key in ("- captions (coco10k_prompts.txt)", "- reference_stats (ddmd-sdxl-coco10k-fid.npz)"):
        assert key in out
    for weights in ("inception-fid", "openclip-vit-g-14-laion2b-s12b-b42k", "imagereward", "hps-v2.1"):
        assert f"- {weights}: " in out
    assert "hf download xswu/HPSv2 HPS_v2.1_compressed.pt" in out  # the download plan, checked offline
    assert "hf download THUDM/ImageReward ImageReward.pt med_config.json" in out


def test_the_protocol_records_fid_clip_image_reward_and_hpsv21_as_the_paper_prints_them(data):
    protocol, context = get_protocol(NAME, data=data)
    assert protocol.resolution == 1024 and len(context.prompt_set.prompts) == 10_000
    metrics = protocol.metrics
    assert list(metrics) == ["fid", "clip_score", "image_reward", "hpsv21"]
    assert metrics["hpsv21"]["hps_version"] == "v2.1" and metrics["hpsv21"]["scale"] == 100.0
    assert metrics["hpsv21"]["implementation"] == catalog.HPS.implementation
    assert metrics["image_reward"]["scale"] == 100.0
    assert metrics["fid"]["eval_transform"] == "crop-lanczos-512"
    assert context.weight_names()[-1] == "hps-v2.1"
    assert describe(NAME)["metrics"] == ["fid", "clip_score", "image_reward", "hpsv21"]


def test_reference_statistics_of_dmd2s_coco10k_protocol_serve_this_one(data, tmp_path):
    shared = write_stats(tmp_path / "coco10k-fid.npz", "coco10k-512-patch", "fid")  # same images, transform
    protocol, _ = get_protocol(NAME, data={**data, "reference_stats": shared})
    assert protocol.metrics["fid"]["reference"]["id"] == "dmd2-coco10k-subset"
    with pytest.raises(datafiles.DataFileError):
        get_protocol(NAME, data={**data, "reference_stats": write_stats(tmp_path / "x.npz", "coco30k-256", "fid")})


def test_dry_run_with_the_data_shows_the_protocol(data, empty_hub):
    args = ["evaluate", "--protocol", NAME, "--model", "teacher", "--dry-run", "--json",
            "--data", f"captions={data['captions']}",
            "--data", f"reference_stats={data['reference_stats']}"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["protocol"]["name"] == NAME and plan["images_per_generator"] == 10_000
    assert set(plan["protocol"]["metrics"]) == {"fid", "clip_score", "image_reward", "hpsv21"}


def test_the_papers_table_is_filed_under_the_reported_protocol_with_each_metrics_direction():
    spec = SPECS.get(NAME)
    sets = {p.name: records for p, records in reported_sets()}
    records = sets[spec.reported]
    ddmd = next(r for r in records if r["generator"]["name"] == "Decoupled DMD (SDXL, 4-step)")
    assert ddmd["metrics"]["hpsv21"]["value"] == 30.34 and ddmd["metrics"]["hpsv21"]["higher_is_better"] is True
    assert ddmd["metrics"]["fid"]["higher_is_better"] is False
    assert "Table 2" in ddmd["source"]["citation"]
    measured = {name for name, _ in spec.scores} | {"fid", "clip_score"}
    assert measured <= set(ddmd["metrics"])  # every measured metric has the paper's number beside it


def test_every_score_names_registered_weights_and_a_registered_metric():
    from ddmd_bench import resolver

    for name in SCORES:
        score = SCORES.get(name)
        assert name in catalog.METRICS
        assert all(w in resolver.WEIGHTS for w in score.weights)
        declared = score.declared(1.0)
        assert declared["implementation"] == catalog.METRICS.get(name).implementation


def test_image_reward_is_built_with_the_protocols_scale(monkeypatch):
    """The scale reaches the builder (the metric is never edited after it was built)."""
    from ddmd_bench.metrics import image_reward

    calls = []
    monkeypatch.setattr(image_reward, "build_image_reward", lambda **kwargs: calls.append(kwargs) or kwargs)
    assert SCORES.get("image_reward").build(100.0) == {"allow_download": False, "scale": 100.0}
    assert calls == [{"allow_download": False, "scale": 100.0}]
