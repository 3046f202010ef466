"""The metric registry (`metrics.catalog`): metric classes and protocol specs take identity and direction from it,
the toy protocol and its committed records still agree with it, and the leaderboard ranks by recorded direction."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from ddmd_bench.leaderboard import compare, render, table
from ddmd_bench.leaderboard.store import Entry, read
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.clip_score import CLIPScore, ClipScoreConfig
from ddmd_bench.metrics.fid import FID, ReferenceStats
from ddmd_bench.metrics.image_reward import ImageReward, ImageRewardConfig
from ddmd_bench.metrics.prompt_accuracy import PromptAccuracy
from ddmd_bench.protocols import get_protocol
from ddmd_bench.registry import UnknownNameError
from ddmd_bench.tracks.toy import protocol_facts as facts, track

LEADERBOARDS = Path(__file__).resolve().parents[2] / "leaderboards"


class _Extractor:
    id, dim, weights_sha256, preprocessing = "fake-4d", 4, "0" * 64, "none"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().flatten(1)[:, :4]


def _fid(sqrt_method: str = "eigh") -> FID:
    return FID(_Extractor(), ReferenceStats(np.zeros(4), np.eye(4), 10, "fake-4d", "ref"), sqrt_method=sqrt_method)


def test_metric_classes_state_their_registry_identity_and_direction():
    model = types.SimpleNamespace(eval=lambda: model, config=ImageRewardConfig())
    built = {
        "fid": _fid(),
        "clip_score": CLIPScore(model, None, None, ClipScoreConfig("m", "0" * 64)),
        "image_reward": ImageReward(model, None, "0" * 64),
        "prompt_accuracy_heldout": PromptAccuracy("prompt_accuracy_heldout", None, None, None,
                                                  {"implementation": "a classifier"}, ("shape",)),
    }
    for name, metric in built.items():
        kind = catalog.METRICS.get(name)
        assert (metric.higher_is_better, metric.version) == (kind.higher_is_better, kind.version), name
        assert metric.spec()["implementation"] == kind.implementation or kind.implementation is None, name
    assert built["fid"].spec()["sqrt_method"] == catalog.SQRT_METHODS.get("eigh").description
    assert _fid("cholesky").spec()["sqrt_method"] == catalog.SQRT_METHODS.get("cholesky").description
    assert built["clip_score"].spec()["formula"] == catalog.CLIP_FORMULA


def test_direction_comes_from_the_registry_and_unknown_names_are_refused():
    assert catalog.direction("fid") is False and catalog.direction("patch_fid") is False
    assert catalog.direction("clip_score") is True and catalog.direction("prompt_accuracy_heldout") is True
    with pytest.raises(UnknownNameError, match="did you mean 'fid'"):
        catalog.direction("fdi")
    assert catalog.direction("hpsv3", default=True) is True and catalog.direction("fid", default=True) is False


def test_recorded_direction_prefers_the_record_then_the_registry_then_the_default():
    assert catalog.recorded_direction("fid", {"higher_is_better": True}) is True  # what the record says wins
    assert catalog.recorded_direction("fid", {"value": 1.0}) is False
    assert catalog.recorded_direction("hpsv3", {"value": 1.0}) is True
    assert catalog.recorded_direction("hpsv3", {"value": 1.0}, default=False) is False


def test_a_sqrt_method_is_found_by_any_label_a_spec_may_carry():
    for name in catalog.SQRT_METHODS:
        method = catalog.SQRT_METHODS.get(name)
        assert {catalog.sqrt_method(label) for label in (method.name, method.description, method.brief)} == {method}
    with pytest.raises(UnknownNameError, match="eigh"):
        catalog.sqrt_method("eig, float32")


def test_a_kind_with_an_implementation_refuses_another_one_in_its_fields():
    with pytest.raises(ValueError, match="implementation"):
        catalog.FID.spec(implementation="something else")
    assert catalog.PROMPT_ACCURACY.spec(implementation="a classifier") == {"implementation": "a classifier"}


def test_every_shipped_protocol_metric_is_registered_with_its_implementation():
    protocol, _ = get_protocol("toy")
    for name, spec in protocol.metrics.items():
        kind = catalog.METRICS.get(name)
        assert spec["implementation"] == (kind.implementation or track.CLASSIFIER), name


@pytest.mark.parametrize("version", sorted(facts.VERSIONS))
def test_toy_protocol_keeps_the_committed_fingerprint_and_its_records_the_specs_the_registry_builds(version):
    protocol, _ = track.toy_protocol(version=version)
    header, entries = read(LEADERBOARDS / f"{protocol.slug}.jsonl")
    assert protocol.fingerprint == header["fingerprint"]
    method = catalog.SQRT_METHODS.get(track.FID_SQRT_METHOD)
    assert protocol.metrics["fid"]["sqrt_method"] == method.brief
    subsets = {s.metric: s for s in track.ACCURACY_SUBSETS}
    for entry in entries:
        metrics = entry.record["metrics"]
        assert metrics["fid"]["spec"]["sqrt_method"] == method.description
        assert metrics["fid"]["spec"]["implementation"] == catalog.FID.implementation
        for name, subset in subsets.items():
            assert protocol.metrics[name]["subset"] == subset.label
            assert metrics[name]["spec"]["subset"] == subset.description
        for name, m in metrics.items():
            assert m["higher_is_better"] == catalog.direction(name), name


def _record(name: str, metrics: dict[str, dict]) -> dict:
    return {"generator": {"name": name, "nfe": 1}, "metrics": metrics, "latency": {"median": 0.1}}


def test_leaderboard_sorts_by_the_recorded_direction_then_the_registry():
    # an unregistered metric recorded as lower-is-better sorts ascending; "fid" without the field: the registry's
    rows = table.rows([Entry("h" + g, "measured", _record(g, {
                           "error_rate": {"status": "ok", "value": v, "higher_is_better": False},
                           "fid": {"status": "ok", "value": f}, "clip_score": {"status": "ok", "value": c}}))
                       for g, v, f, c in (("a", 0.3, 5.0, 20.0), ("b", 0.1, 7.0, 30.0), ("c", 0.2, 6.0, 10.0))])
    assert [r["name"] for r in table.sort_rows(rows, "error_rate")] == ["b", "c", "a"]
    assert [r["name"] for r in table.sort_rows(rows, "fid")] == ["a", "c", "b"]
    assert [r["name"] for r in table.sort_rows(rows, "clip_score")] == ["b", "a", "c"]
    assert all(k != "higher_is_better" for k, _, _ in table.columns(rows))


def test_html_page_sorts_lower_is_better_columns_from_the_records():
    entries = [Entry("ha", "measured", _record("a", {
        "error_rate": {"status": "ok", "value": 0.3, "higher_is_better": False},
        "fid": {"status": "ok", "value": 5.0, "higher_is_better": False},
        "clip_score": {"status": "ok", "value": 20.0, "higher_is_better": True}}))]
    page = render.html_page({"protocol": {"name": "p", "version": 1}, "fingerprint": "0" * 64}, entries)
    data = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert set(data["lower_is_better"]) == {"error_rate", "fid", "nfe", "latency_ms"}
    assert "new Set(DATA.lower_is_better)" in page


def test_compare_falls_back_to_the_registry_for_records_without_a_direction():
    a = {"value": 5.0, "ci_low": 4.9, "ci_high": 5.1}
    b = {"value": 3.0, "ci_low": 2.9, "ci_high": 3.1}
    assert compare.compare_metric("fid", a, b).verdict.startswith("B is better")
    assert compare.compare_metric("clip_score", a, b).verdict.startswith("B is worse")
