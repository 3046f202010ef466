"""Literature protocols (coco30k-256, coco10k-512-patch, mlperf-sdxl-5k): data files, references, prompts, gate.

Everything here runs without model weights: statistics files are written with tiny made-up statistics and the
identity a real `make_reference_stats` would give them, caption files are synthetic (or the real DMD2 list when
../shared/data is present).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ddmd_bench import resolver
from ddmd_bench.gates import GateRange, QualityGate, gate_for
from ddmd_bench.tracks.literature import datafiles
from ddmd_bench.tracks.literature.build import PromptCountMismatch, build
from ddmd_bench.tracks.literature.gates import MLPERF_SDXL_GATE
from ddmd_bench.tracks.literature.reported import reported_sets
from ddmd_bench.tracks.literature.reference_stats import ReferenceStatsMismatch
from ddmd_bench.tracks.literature.specs import SPECS
from ddmd_bench.metrics.transforms import EVAL_TRANSFORMS, TransformedFeatures
from ddmd_bench.prompts import DuplicatePromptId, EmptyPromptSet
from ddmd_bench.protocol import PromptSetMismatch, check_prompts
from ddmd_bench.protocols import PROTOCOLS, describe, get_protocol
from tests.conftest import SHARED_DATA
from tests.factories import write_mlperf_tsv, write_stats

FX = Path(__file__).resolve().parents[1] / "fixtures" / "literature"
DMD2_SHA = "edabd2a556026cbf5d36a5fffa35ad43d7ba71b72f6d640b727c1edefb7f1945"
NAMES = ("coco30k-256", "coco10k-512-patch", "mlperf-sdxl-5k")
# Fingerprints of the three protocols built on the synthetic files below. A change here means results filed before
# it are no longer comparable: bump the spec's version (a new leaderboard file) rather than editing these values.
GOLDEN = {
    "coco30k-256-cocosample-s0": "e6048caaa63b7ed73cac0cd018df640cc5ab14ddf14c03abb4eaf4032400d1e1",
    "coco10k-512-patch": "1a8a2f5ded18779e60a5c4b355bf9dfbcefe621b6061c31ed0855b8a52e957fc",
    "mlperf-sdxl-5k": "31e7e0764aaf9f1d5b130b36bf2c2b7f8c4349823dc6eeed837a7b96864f388f",
}


@pytest.fixture(autouse=True)
def four_dimensional_features(monkeypatch):
    """The synthetic statistics below are 4-d; the protocols' extractors give 2048-d features."""
    from ddmd_bench.tracks.literature import reference_stats as references

    monkeypatch.setattr(references, "FEATURE_DIMS", {name: 4 for name in references.FEATURE_DIMS})


# ------------------------------------------------------------------------------------------------ data builders

def write_lines(path: Path, n: int, stem: str = "a synthetic caption number") -> Path:
    path.write_text("".join(f"{stem} {i}\n" for i in range(n)), encoding="utf-8")
    return path


def write_coco_json(path: Path, n_images: int, per_image: int = 2) -> Path:
    images = [{"id": 10 + i, "file_name": f"COCO_val2014_{10 + i:012d}.jpg", "width": 640, "height": 480}
              for i in range(n_images)]
    anns = [{"id": 1000 * (10 + i) + j, "image_id": 10 + i, "caption": f"synthetic caption {j} of image {10 + i}"}
            for i in range(n_images) for j in range(per_image)]
    path.write_text(json.dumps({"images": images, "annotations": anns}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Synthetic data for all three protocols (valid files that match each protocol's definition)."""
    d = tmp_path_factory.mktemp("literature-data")
    return {
        "coco_json": write_coco_json(d / "captions_val2014.json", 30_000),
        "coco30k_stats": write_stats(d / "coco30k-256-fid.npz", "coco30k-256", "fid"),
        "coco10k_txt": write_lines(d / "coco10k_prompts.txt", 10_000),
        "coco10k_stats": write_stats(d / "coco10k-fid.npz", "coco10k-512-patch", "fid"),
        "coco10k_patch": write_stats(d / "coco10k-patch.npz", "coco10k-512-patch", "patch_fid"),
        "mlperf_tsv": write_mlperf_tsv(d / "captions_source.tsv", 5_000),
        "mlperf_stats": write_stats(d / "mlperf-fid.npz", "mlperf-sdxl-5k", "fid"),
    }


def data_for(name: str, files: dict[str, Path]) -> dict[str, Path]:
    return {
        "coco30k-256": {"coco_captions": files["coco_json"], "reference_stats": files["coco30k_stats"]},
        "coco10k-512-patch": {"captions": files["coco10k_txt"], "reference_stats": files["coco10k_stats"],
                              "reference_stats_patch": files["coco10k_patch"]},
        "mlperf-sdxl-5k": {"captions": files["mlperf_tsv"], "reference_stats": files["mlperf_stats"]},
    }[name]


def real_dmd2_list() -> Path:
    path = SHARED_DATA / "captions_coco14_test.txt"
    if not path.exists():
        pytest.skip(f"{path} not present (only on the project's machines)")
    return path


# ------------------------------------------------------------------------------------------------ registry, identity

def test_registered_next_to_toy_and_listable_without_data():
    assert {"toy", *NAMES} <= set(PROTOCOLS)
    for name in NAMES:
        summary = describe(name)
        assert summary["name"] == name and summary["data_files"] and summary["reported"]
    assert describe("coco30k-256")["data_files"][0]["sha256"] == DMD2_SHA


def test_catalogue_names_every_literature_spec_once():
    literature = [n for n in PROTOCOLS if n != "toy" and n in SPECS]
    assert literature == list(SPECS)
    for name in SPECS:
        assert PROTOCOLS.get(name).spec is SPECS.get(name)


def test_listing_protocols_imports_no_track_and_describing_one_imports_no_torch():
    code = ("import sys; from ddmd_bench.protocols import PROTOCOLS, describe; "
            "names = list(PROTOCOLS); assert not [m for m in sys.modules if m.startswith('ddmd_bench.tracks')], names; "
            "describe('mlperf-sdxl-5k'); assert 'torch' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_fingerprints_are_stable_distinct_and_independent_of_paths(files, tmp_path):
    prints = {}
    for name in NAMES:
        a, _ = get_protocol(name, data=data_for(name, files))
        b, _ = get_protocol(name, data=data_for(name, files))
        moved = {k: Path(shutil.copy(p, tmp_path / f"{name}-{k}{p.suffix}")) for k, p in data_for(name, files).items()}
        c, _ = get_protocol(name, data=moved)
        assert a.fingerprint == b.fingerprint == c.fingerprint
        prints[a.name] = a.fingerprint
    assert prints == GOLDEN
    prints["toy"] = get_protocol("toy")[0].fingerprint
    assert len(set(prints.values())) == len(prints) == 4


def test_protocol_records_what_makes_results_comparable(files):
    protocol, _ = get_protocol("coco10k-512-patch", data=data_for("coco10k-512-patch", files))
    assert protocol.resolution == 1024 and protocol.track == "literature"
    fid, patch, clip = (protocol.metrics[k] for k in ("fid", "patch_fid", "clip_score"))
    assert fid["eval_transform"] == "crop-lanczos-512" and fid["extractor"] == "inception"
    assert patch["extractor"] == "inception-patch" and patch["eval_transform"] == "none"
    assert fid["reference"]["id"] == patch["reference"]["id"] == "dmd2-coco10k-subset"
    assert fid["reference"]["stats_sha256"] != patch["reference"]["stats_sha256"]
    assert clip["model"] == "ViT-g-14" and clip["scale"] == 1.0 and clip["prefix"] == "A photo depicts "
    assert "weights_sha256" not in fid  # not pinned: unknown until the weights are resolved, recorded per result
    mlperf, _ = get_protocol("mlperf-sdxl-5k", data=data_for("mlperf-sdxl-5k", files))
    assert mlperf.metrics["clip_score"]["model"] == "ViT-B-32-quickgelu" and mlperf.metrics["clip_score"]["scale"] == 100.0
    assert mlperf.metrics["fid"]["gate"]["low"] == 23.01085758


def test_limit_makes_a_named_prefix(files):
    full, _ = get_protocol("mlperf-sdxl-5k", data=data_for("mlperf-sdxl-5k", files))
    part, ctx = get_protocol("mlperf-sdxl-5k", limit=10, data=data_for("mlperf-sdxl-5k", files))
    assert part.name == "mlperf-sdxl-5k-n10" and len(ctx.prompt_set.prompts) == 10
    assert part.fingerprint != full.fingerprint
    assert gate_for(full).ranges == MLPERF_SDXL_GATE.ranges and gate_for(full).name == MLPERF_SDXL_GATE.name
    assert gate_for(part) is None and gate_for(get_protocol("toy")[0]) is None  # the ranges hold at n=5000 only
    assert full.quality_gate() == gate_for(full) and part.quality_gate() is None


def test_reported_protocols_line_up():
    reported = {p.name: (p, records) for p, records in reported_sets()}
    assert {SPECS.get(n).reported for n in NAMES} <= set(reported)
    gate_entry = reported["mlperf-sdxl-5k-gate"][1][0]["metrics"]
    for r in MLPERF_SDXL_GATE.ranges:
        assert (gate_entry[r.metric]["ci_low"], gate_entry[r.metric]["ci_high"]) == (r.low, r.high)


# ------------------------------------------------------------------------------------------------ caption files

def test_real_dmd2_caption_list_loads_30000_verified_prompts(files):
    path = real_dmd2_list()
    protocol, ctx = get_protocol("coco30k-256", data={"captions": path, "reference_stats": files["coco30k_stats"]})
    assert protocol.name == "coco30k-256" and len(ctx.prompt_set.prompts) == 30_000
    assert protocol.prompt_set["sha256"] == DMD2_SHA == ctx.data_record()["captions"]["sha256"]
    assert ctx.data_record()["captions"]["check"] == "known sha256 verified"


def test_modified_caption_list_is_refused_with_both_hashes(files, tmp_path):
    source = SHARED_DATA / "captions_coco14_test.txt"
    copy = tmp_path / "captions_coco14_test.txt"
    if source.exists():
        shutil.copy(source, copy)
        with open(copy, "a", encoding="utf-8") as f:
            f.write("one caption too many\n")
    else:  # any other content has another hash; the check happens before parsing
        write_lines(copy, 30_000)
    with pytest.raises(datafiles.DataFileHashMismatch) as err:
        get_protocol("coco30k-256", data={"captions": copy, "reference_stats": files["coco30k_stats"]})
    message = str(err.value)
    assert f"'captions' = {copy}" in message and f"expected {DMD2_SHA}" in message
    assert resolver.sha256_file(copy) in message and "captions_coco14_test.txt" in message
    assert "tianweiy/DMD2" in message


def test_seeded_coco_sample_is_deterministic_and_recorded(files):
    spec = SPECS.get("coco30k-256")
    small = dataclasses.replace(spec, n_prompts=4)  # the tiny fixture has 6 captioned images
    data = {"coco_captions": FX / "captions_val2014_tiny.json", "reference_stats": files["coco30k_stats"]}
    (p1, c1), (p2, c2) = build(small, data=data), build(small, data=data)
    other_seed = dataclasses.replace(small, prompt_sources=(
        spec.prompt_sources[0], dataclasses.replace(spec.prompt_sources[1], sample_seed=1)))
    p3, c3 = build(other_seed, data=data)
    assert p1.name == "coco30k-256-cocosample-s0" and p1.fingerprint == p2.fingerprint
    assert c1.prompt_set.prompts == c2.prompt_set.prompts and len(c1.prompt_set.prompts) == 4
    selection = c1.selection()
    assert len({m["image_id"] for m in selection}) == 4 and 192 not in {m["image_id"] for m in selection}
    by_ann = {a["id"]: a for a in json.loads((FX / "captions_val2014_tiny.json").read_text())["annotations"]}
    assert all(by_ann[m["annotation_id"]]["caption"] == p for m, p in zip(selection, c1.prompt_set.prompts))
    record = p1.prompt_set["selection"]
    assert record["seed"] == 0 and len(record["annotation_ids_sha256"]) == 64
    assert p1.prompt_set["sha256"] == c1.prompt_set.sha256
    assert [m["annotation_id"] for m in c3.selection()] != [m["annotation_id"] for m in selection]
    assert p3.fingerprint != p1.fingerprint


def test_coco_sample_at_full_size_through_the_registry(files):
    protocol, ctx = get_protocol("coco30k-256", data=data_for("coco30k-256", files))
    assert len(ctx.prompt_set.prompts) == 30_000 and protocol.prompt_set["selection"]["seed"] == 0
    assert ctx.data_record()["coco_captions"]["check"] == "no known hash: recorded"


def test_wrong_prompt_count_names_the_file(files, tmp_path):
    short = write_lines(tmp_path / "coco10k_prompts.txt", 9_999)
    data = {**data_for("coco10k-512-patch", files), "captions": short}
    with pytest.raises(PromptCountMismatch, match=f"'captions' = {short} holds 9999 prompts, expected 10000"):
        get_protocol("coco10k-512-patch", data=data)


# ------------------------------------------------------------------------------------------------ missing / unknown

def test_missing_and_unknown_files_say_how_to_provide_them(files, tmp_path):
    with pytest.raises(datafiles.MissingDataFile, match="needs its prompts from data file 'captions' or "
                                                        "'coco_captions'.*--data captions="):
        get_protocol("coco30k-256")
    with pytest.raises(datafiles.MissingDataFile,
                       match="needs data file 'reference_stats_patch'.*make_reference_stats"):
        get_protocol("coco10k-512-patch", data={k: v for k, v in data_for("coco10k-512-patch", files).items()
                                                 if k != "reference_stats_patch"})
    with pytest.raises(datafiles.MissingDataFile, match=f"'captions' = {tmp_path / 'nope.tsv'} does not exist"):
        get_protocol("mlperf-sdxl-5k", data={**data_for("mlperf-sdxl-5k", files), "captions": tmp_path / "nope.tsv"})
    with pytest.raises(datafiles.UnknownDataKey, match="did you mean 'captions'"):
        get_protocol("mlperf-sdxl-5k", data={**data_for("mlperf-sdxl-5k", files), "caption": files["mlperf_tsv"]})
    with pytest.raises(datafiles.DataFileError, match="give only one of 'captions', 'coco_captions'"):
        get_protocol("coco30k-256", data={**data_for("coco30k-256", files), "captions": files["coco10k_txt"]})
    with pytest.raises(ValueError, match="reads no data files"):
        get_protocol("toy", data={"captions": files["coco10k_txt"]})


# ------------------------------------------------------------------------------------------------ reference stats

@pytest.mark.parametrize("made, protocol, key, problem", [
    (("coco10k-512-patch", "fid", {}), "coco30k-256", "reference_stats",
     ("made for protocol 'coco10k-512-patch', metric 'fid'.*reference_id is 'dmd2-coco10k-subset', expected "
      "'coco2014-val2014-all'; eval_transform is 'crop-lanczos-512', expected 'crop-lanczos-256'")),
    (("coco10k-512-patch", "fid", {}), "coco10k-512-patch", "reference_stats_patch",
     "extractor is 'inception', expected 'inception-patch'; eval_transform is 'crop-lanczos-512', expected 'none'"),
    (("mlperf-sdxl-5k", "fid", {"n": 4_999}), "mlperf-sdxl-5k", "reference_stats",
     "n is 4999 images, expected 5000"),
    (("coco30k-256", "fid", {"identity": {}}), "coco30k-256", "reference_stats", "carry no protocol identity"),
])
def test_reference_stats_made_for_another_protocol_are_refused(files, tmp_path, monkeypatch, made, protocol, key,
                                                               problem):
    source, metric, options = made
    bad = write_stats(tmp_path / "other.npz", source, metric, **options)
    monkeypatch.setattr(resolver, "resolve", _no_weights)  # refused while building: no model is ever touched
    with pytest.raises(ReferenceStatsMismatch, match=problem) as err:
        get_protocol(protocol, data={**data_for(protocol, files), key: bad})
    assert f"{key!r} = {bad}" in str(err.value) and "make_reference_stats" in str(err.value)


def test_a_file_that_is_not_reference_stats_is_refused(files, tmp_path):
    junk = tmp_path / "stats.npz"
    junk.write_bytes(b"not an npz")
    with pytest.raises(ReferenceStatsMismatch, match="not a readable reference-statistics"):
        get_protocol("mlperf-sdxl-5k", data={**data_for("mlperf-sdxl-5k", files), "reference_stats": junk})


# ------------------------------------------------------------------------------------------------ weights

def _no_weights(*args, **kwargs):
    raise AssertionError("building a protocol must not resolve or load weights")


def test_building_a_protocol_loads_no_weights(files, monkeypatch):
    import open_clip
    import torch

    monkeypatch.setattr(resolver, "resolve", _no_weights)
    monkeypatch.setattr(torch, "load", _no_weights)
    monkeypatch.setattr(open_clip, "create_model_and_transforms", _no_weights)
    for name in NAMES:
        get_protocol(name, data=data_for(name, files))


def test_build_metrics_without_weights_fails_in_the_resolver(files, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("DDMD_BENCH_INCEPTION", raising=False)
    protocol, ctx = get_protocol("coco30k-256", data=data_for("coco30k-256", files))
    with pytest.raises(resolver.WeightsNotFound) as err:
        ctx.build_metrics(protocol)
    message = str(err.value)
    assert "openclip-vit-g-14-laion2b-s12b-b42k: open_clip_pytorch_model.safetensors not found" in message
    assert "HF_HUB_OFFLINE=1 forbids downloading" in message
    assert "`hf download laion/CLIP-ViT-g-14-laion2B-s12B-b42K " in message


# ------------------------------------------------------------------------------------------------ prompt checks

def test_empty_prompt_set_is_refused(files, tmp_path):
    empty = tmp_path / "coco10k_prompts.txt"
    empty.write_text("")
    with pytest.raises(EmptyPromptSet, match="empty"):
        get_protocol("coco10k-512-patch", data={**data_for("coco10k-512-patch", files), "captions": empty})


def test_duplicate_prompt_id_is_refused(files, tmp_path):
    dup = write_mlperf_tsv(tmp_path / "captions_source.tsv", 5_000, duplicate_id=True)
    with pytest.raises(DuplicatePromptId, match="duplicate prompt id 7 \\(prompts 1 and 5000\\)"):
        get_protocol("mlperf-sdxl-5k", data={**data_for("mlperf-sdxl-5k", files), "captions": dup})


def test_every_protocol_checks_its_prompts_before_generating(files):
    from ddmd_bench.evaluation import runner
    from ddmd_bench.prompts import PromptSet

    protocol, ctx = get_protocol("toy")
    with pytest.raises(PromptSetMismatch, match="records prompt set 'toy'"):
        check_prompts(protocol, ctx.prompt_set.head(5))

    class Context:  # an empty prompt set must fail before any metric (weights) or generator is touched
        prompt_set = PromptSet("empty", 1, ())

        def build_metrics(self, protocol):
            raise AssertionError("metrics built for an empty prompt set")

    with pytest.raises(EmptyPromptSet):
        runner.run(None, protocol, Context(), progress=False)


# ------------------------------------------------------------------------------------------------ MLPerf gate

@pytest.mark.parametrize("fid, clip, passed", [
    (23.5, 31.75, True),
    (23.01085758, 31.81331801, True),  # bounds are inclusive
    (23.0, 31.75, False),  # FID too good is as invalid as too bad
    (24.0, 31.75, False),
    (23.5, 31.6, False),
    (23.5, 31.9, False),
    (22.0, 32.0, False),
    (23.5, float("nan"), False),
])
def test_mlperf_gate_needs_both_metrics_inside(fid, clip, passed):
    result = MLPERF_SDXL_GATE.check({"fid": fid, "clip_score": clip})
    assert result.passed is passed
    assert [c.metric for c in result.checks] == ["fid", "clip_score"]
    assert ("PASS" if passed else "FAIL") in result.summary()


def test_mlperf_gate_on_records():
    ok = {"metrics": {"fid": {"status": "ok", "value": 23.4}, "clip_score": {"status": "ok", "value": 31.7}}}
    assert MLPERF_SDXL_GATE.check_record(ok).passed
    missing = {"metrics": {"fid": {"status": "ok", "value": 23.4}}}
    result = MLPERF_SDXL_GATE.check_record(missing)
    assert not result.passed and "clip_score missing" in result.summary()
    failed = {"metrics": {**ok["metrics"], "clip_score": {"status": "error", "value": 31.7}}}
    assert not MLPERF_SDXL_GATE.check_record(failed).passed
    with pytest.raises(ValueError, match="no ranges"):
        QualityGate("empty", (), "nowhere")
    with pytest.raises(ValueError, match="low 2 > high 1"):
        GateRange("fid", 2, 1)


# ------------------------------------------------------------------------------------------------ eval transform

def test_eval_transform_is_idempotent_and_part_of_the_extractor_id():
    import torch

    crop = EVAL_TRANSFORMS.get("crop-lanczos-256")
    image = torch.randint(0, 256, (3, 300, 420), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    once = crop.one(image)
    assert once.shape == (3, 256, 256) and torch.equal(crop.one(once), once)

    inner = types.SimpleNamespace(id="net|abc|clean", dim=3, weights_sha256="w", preprocessing="clean resize",
                                  __call__=None)
    wrapped = TransformedFeatures(inner, crop)
    assert wrapped.id == "net|abc|clean|crop-lanczos-256" and wrapped.preprocessing.startswith("centre crop")
    assert TransformedFeatures(inner, EVAL_TRANSFORMS.get("none")).id == "net|abc|clean"
