"""Toy protocol v4 (toy CMMD, FID-T against the teacher's 50-step guided images, KID, precision/recall): v3 stays
buildable with its committed fingerprint (its leaderboard and the committed ablation runs were measured under it),
v4 builds every metric it declares, and the FID-T reference is sampled once, deterministically, and cached under a
hash of its identity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ddmd_bench.metrics import catalog
from ddmd_bench.tracks.toy import ablation, protocol_facts as facts, shipped, teacher_reference, track

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 6  # the first held-out prompt is number 5


def test_v3_keeps_the_fingerprint_of_its_leaderboard_and_of_the_committed_ablation_runs():
    v3, _ = track.toy_protocol(version=3)
    header = json.loads((ROOT / "leaderboards" / "toy-v3.jsonl").read_text().splitlines()[0])
    assert v3.fingerprint == header["fingerprint"]
    assert list(v3.metrics) == list(facts.VERSIONS[3]) and "columns" not in v3.to_dict()
    scored = {json.loads(p.read_text())["protocol"]["fingerprint"]
              for p in (ROOT / "docs" / "ablation" / "runs").glob("*/seed-*/eval.json")}
    assert scored == {v3.fingerprint}
    assert ablation.SnapshotScorer().protocol.fingerprint == v3.fingerprint  # new runs score as committed ones


def test_committed_ablation_runs_still_count_as_finished():
    runs = ROOT / "docs" / "ablation" / "runs"
    identity = json.loads((runs / "ablation.json").read_text())
    cfg = ablation.AblationConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in identity.items()
                                     if k in ablation.AblationConfig.__dataclass_fields__})
    committed = {(p.parent.parent.name, int(p.parent.name.removeprefix("seed-"))) for p in runs.glob("*/seed-*/eval.json")}
    assert committed and ablation.committed_runs(runs, cfg, shipped.entry("teacher")["sha256"]) == committed


def test_v4_adds_the_new_metrics_with_their_identities():
    v3, _ = track.toy_protocol(version=3)
    v4, _ = track.toy_protocol()
    assert facts.VERSION == v4.version == 4 and v4.fingerprint != v3.fingerprint
    assert list(v4.metrics) == list(facts.VERSIONS[3]) + ["fid_t", "cmmd", "kid", "precision", "recall"]
    assert all(v4.metrics[m] == v3.metrics[m] for m in v3.metrics)  # v3's metrics are measured as before
    teacher = v4.metrics["fid_t"]["teacher"]
    assert teacher["weights_sha256"] == shipped.entry("teacher")["sha256"]
    assert teacher["recipe"] == {"scheduler": "flow-euler", "steps": 50, "guidance": 3.0, "resolution": 16}
    assert teacher["prompt_set"] == v4.prompt_set and teacher["seed_rule"] == v4.seed_rule
    assert v4.metrics["fid_t"]["implementation"] == catalog.FID_T.implementation
    assert v4.metrics["precision"]["k"] == v4.metrics["recall"]["k"] == 3
    assert v4.metrics["kid"]["subset_size"] == 320 and track.toy_protocol(LIMIT)[0].metrics["kid"]["subset_size"] == LIMIT
    assert v4.columns and set(v4.columns) <= set(v4.metrics)
    with pytest.raises(ValueError, match="toy protocol version 2 cannot be built; versions: 3, 4"):
        track.toy_protocol(version=2)


def _teacher_images(prompts: list[str], seeds: list[int]) -> torch.Tensor:
    from ddmd_bench.tracks.toy.generators import ToyGenerator

    return ToyGenerator(teacher_reference.TEACHER_RECIPE).generate(prompts, seeds)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "ddmd-bench" / "toy-fid-t"


def test_each_version_builds_exactly_its_metrics_and_fid_t_of_the_teacher_recipe_is_zero(cache):
    v3, context3 = track.toy_protocol(LIMIT, version=3)
    assert set(context3.build_metrics(v3)) == set(facts.VERSIONS[3])
    protocol, context = track.toy_protocol(LIMIT)
    metrics = context.build_metrics(protocol)
    assert set(metrics) == set(facts.VERSIONS[4])
    prompts, seeds = list(context.prompt_set.prompts), protocol.seeds(LIMIT)
    images = _teacher_images(prompts, seeds)  # what `evaluate --model toy-teacher/euler-50/cfg3` generates
    for m in metrics.values():
        m.update(images[:4], prompts[:4])
        m.update(images[4:], prompts[4:])
    values = {name: m.compute() for name, m in metrics.items()}
    # its own teacher: zero up to the round-off of a rank-deficient covariance (6 images, 128-d), against real images
    # thousands
    assert abs(values["fid_t"].value) < 1e-5 * values["fid"].value and values["fid"].value > 100
    assert metrics["fid_t"].spec()["teacher"] == protocol.metrics["fid_t"]["teacher"]
    assert all(np.isfinite(v.value) for v in values.values())
    assert len(list(cache.glob("*.npz"))) == 1


def test_the_teacher_reference_is_cached_by_its_identity_and_recomputed_when_the_file_is_wrong(cache, monkeypatch):
    protocol, context = track.toy_protocol(LIMIT)
    outputs = teacher_reference.teacher_outputs(protocol.prompt_set, protocol.seed_rule)
    prompts, seeds = list(context.prompt_set.prompts), protocol.seeds(LIMIT)
    extractor = track.ClassifierFeatures()
    first = teacher_reference.teacher_reference(prompts, seeds, outputs, extractor)
    direct = extractor(_teacher_images(prompts, seeds)).double().numpy()
    np.testing.assert_allclose(first.mu, direct.mean(0), rtol=1e-5, atol=1e-6)  # the teacher's own images
    path = cache / f"{teacher_reference.cache_key(outputs, seeds, extractor.id)}.npz"
    assert path.exists()

    calls = []
    real = teacher_reference._teacher_images
    monkeypatch.setattr(teacher_reference, "_teacher_images", lambda *a: calls.append(a) or real(*a))
    again = teacher_reference.teacher_reference(prompts, seeds, outputs, extractor)
    assert not calls and again.sha256 == first.sha256  # read back from the cache, not sampled again

    path.write_bytes(path.read_bytes()[:-40] + b"\0" * 40)  # a damaged cache file is sampled again, not trusted
    assert teacher_reference.teacher_reference(prompts, seeds, outputs, extractor).sha256 == first.sha256
    assert len(calls) == 1
    shifted = [s + 1 for s in seeds]
    assert teacher_reference.cache_key(outputs, shifted, extractor.id) != path.stem
    with pytest.raises(ValueError, match="5 prompts and 6 seeds"):
        teacher_reference.teacher_reference(prompts[:5], seeds, outputs, extractor)
