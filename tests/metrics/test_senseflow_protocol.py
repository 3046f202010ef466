"""SenseFlow's COCO-5K protocols (senseflow-coco5k-{sdxl,sd35,flux}): what `evaluate --dry-run` lists, the protocol
built from synthetic files (FID-T and patch FID-T against a teacher reference with its identity, CLIP, HPSv2,
PickScore and ImageReward unscaled), the refusals of a missing or mismatched teacher reference, and the paper's
Table 1 filed under its own `reported` protocols. Offline, no weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddmd_bench.leaderboard import render, store
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.teacher_outputs import TeacherOutputs
from ddmd_bench.protocols import PROTOCOLS, describe, get_protocol
from ddmd_bench.tracks.literature import datafiles
from ddmd_bench.tracks.literature.build import load_prompts
from ddmd_bench.tracks.literature.reference_stats import ReferenceStatsMismatch, make_reference_stats
from ddmd_bench.tracks.literature.reported import SENSEFLOW_CITATION, reported_sets
from ddmd_bench.tracks.literature.specs import SPECS
from tests.factories import write_stats

NAME = "senseflow-coco5k-sdxl"
TEACHER = "stabilityai/stable-diffusion-xl-base-1.0"
LEADERBOARDS = Path(__file__).resolve().parents[2] / "leaderboards"
GROUPS = {"senseflow-coco5k-sdxl": 8, "senseflow-coco5k-sd35": 4, "senseflow-coco5k-flux": 7}  # Table 1 rows


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


def write_coco2017(path: Path, n_images: int = 5_000, per_image: int = 5) -> Path:
    images = [{"id": 100 + i, "file_name": f"{100 + i:012d}.jpg", "width": 640, "height": 480}
              for i in range(n_images)]
    anns = [{"id": 10 * (100 + i) + j, "image_id": 100 + i, "caption": f"caption {j} of image {100 + i}"}
            for i in range(n_images) for j in range(per_image)]
    path.write_text(json.dumps({"images": images, "annotations": anns}), encoding="utf-8")
    return path


def teacher_identity(coco: Path, teacher: str = TEACHER, seed_rule: str = "seed_i = 0 + i",
                     steps: int = 40) -> dict:
    """The identity make_reference_stats stores for the teacher's images of this protocol's prompts."""
    spec = SPECS.get(NAME)
    prompts = load_prompts(spec, spec.prompt_sources[0], coco).ref()
    return TeacherOutputs(teacher, None, {"scheduler": "EulerDiscreteScheduler", "steps": steps, "guidance": 7.5},
                          {"name": prompts["name"], "n": prompts["n"], "sha256": prompts["sha256"]},
                          seed_rule).to_dict()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("senseflow-data")
    coco = write_coco2017(d / "captions_val2017.json")
    teacher = teacher_identity(coco)
    return {"coco_captions": coco,
            "teacher_stats": write_stats(d / "fid_t.npz", NAME, "fid_t", teacher=teacher),
            "teacher_stats_patch": write_stats(d / "patch_fid_t.npz", NAME, "patch_fid_t", teacher=teacher)}


def _cli():
    from ddmd_bench.cli import main

    return main


def test_each_teacher_has_its_protocol_in_the_catalogue():
    for name in GROUPS:
        assert name in PROTOCOLS and name in SPECS
        spec = SPECS.get(name)
        assert {f.teacher for f in spec.fids} == {spec.fids[0].teacher} != {None}
        assert spec.reported == f"paper-{name}"
    assert {SPECS.get(n).fids[0].teacher for n in GROUPS} == {
        TEACHER, "stabilityai/stable-diffusion-3.5-large", "black-forest-labs/FLUX.1-dev"}


def test_dry_run_without_data_lists_every_data_file_and_weight_file(empty_hub):
    result = CliRunner().invoke(_cli(), ["evaluate", "--protocol", NAME, "--dry-run"])
    assert result.exit_code != 0
    out = result.output
    for key in ("- coco_captions (captions_val2017.json)", "- captions (coco5k_prompts.txt)",
                f"- teacher_stats ({NAME}-fid_t.npz)", f"- teacher_stats_patch ({NAME}-patch_fid_t.npz)"):
        assert key in out
    assert f"the images {TEACHER} generated" in out and "make_reference_stats(" in out
    for weights in ("inception-fid", "openclip-vit-g-14-laion2b-s12b-b42k", "hps-v2.0", "pickscore-v1",
                    "imagereward"):
        assert f"- {weights}: " in out
    assert "hf download xswu/HPSv2 HPS_v2_compressed.pt" in out  # the download plan, checked offline
    assert "hf download yuvalkirstain/PickScore_v1 model.safetensors config.json" in out


def test_the_protocol_records_teacher_fids_and_unscaled_scores(data):
    protocol, context = get_protocol(NAME, data=data)
    assert protocol.resolution == 1024 and len(context.prompt_set.prompts) == 5_000
    assert protocol.prompt_set["selection"]["seed"] == 0
    metrics = protocol.metrics
    assert list(metrics) == ["fid_t", "patch_fid_t", "clip_score", "hpsv2", "pickscore", "image_reward"]
    assert describe(NAME)["metrics"] == list(metrics)
    for name, extractor in (("fid_t", "inception"), ("patch_fid_t", "inception-patch")):
        assert metrics[name]["implementation"] == catalog.FID_T.implementation
        assert metrics[name]["extractor"] == extractor
        assert metrics[name]["teacher"]["teacher"] == TEACHER and metrics[name]["teacher"]["recipe"]["steps"] == 40
    assert metrics["clip_score"]["scale"] == 1.0 and metrics["clip_score"]["preset"] == "dmd2"
    assert metrics["hpsv2"]["hps_version"] == "v2.0" and metrics["hpsv2"]["scale"] == 1.0
    assert metrics["image_reward"]["scale"] == 1.0
    assert context.weight_names()[:3] == ["inception-fid", "openclip-vit-g-14-laion2b-s12b-b42k", "hps-v2.0"]


def test_another_teacher_recipe_is_another_fingerprint(data, tmp_path):
    first, _ = get_protocol(NAME, data=data)
    other = teacher_identity(data["coco_captions"], steps=25)
    second, _ = get_protocol(NAME, data={**data, "teacher_stats": write_stats(tmp_path / "t.npz", NAME, "fid_t",
                                                                              teacher=other)})
    assert second.metrics["fid_t"]["teacher"]["recipe"]["steps"] == 25
    assert second.fingerprint != first.fingerprint


def test_a_missing_teacher_reference_names_the_file_and_how_to_make_it(data):
    partial = {k: v for k, v in data.items() if k != "teacher_stats"}
    with pytest.raises(datafiles.MissingDataFile) as err:
        get_protocol(NAME, data=partial)
    message = str(err.value)
    assert "needs data file 'teacher_stats'" in message and f"{NAME}-fid_t.npz" in message
    assert f"teacher=TeacherOutputs({TEACHER!r}" in message
    assert "- teacher_stats_patch" in message  # with everything else the protocol reads


@pytest.mark.parametrize("change, expected", [
    ({"teacher": "black-forest-labs/FLUX.1-dev"}, "teacher is 'black-forest-labs/FLUX.1-dev', expected"),
    ({"seed_rule": "seed_i = 7 + i"}, "its seed rule is 'seed_i = 7 + i'"),
    ({"prompts": "other"}, "its prompt set's sha256 is"),
    ({"drop": True}, "they carry no teacher identity"),
])
def test_a_teacher_reference_of_other_images_is_refused(data, tmp_path, change, expected):
    if change.get("prompts"):
        other = write_coco2017(tmp_path / "other.json", per_image=1)
        teacher = teacher_identity(other)
    else:
        teacher = teacher_identity(data["coco_captions"], change.get("teacher", TEACHER),
                                   change.get("seed_rule", "seed_i = 0 + i"))
    stats = write_stats(tmp_path / "t.npz", NAME, "fid_t", **({} if change.get("drop") else {"teacher": teacher}))
    with pytest.raises(ReferenceStatsMismatch, match="teacher") as err:
        get_protocol(NAME, data={**data, "teacher_stats": stats})
    assert expected in str(err.value) and str(stats) in str(err.value)


def test_making_teacher_statistics_needs_the_teachers_identity(tmp_path):
    with pytest.raises(ValueError, match=r"pass teacher=TeacherOutputs\('stabilityai"):
        make_reference_stats(NAME, "fid_t", tmp_path, tmp_path / "out.npz")
    with pytest.raises(ValueError, match="against real images"):
        make_reference_stats("coco10k-512-patch", "fid", tmp_path, tmp_path / "out.npz",
                             teacher=TeacherOutputs(TEACHER, None, {}, {}, ""))
    assert not (tmp_path / "out.npz").exists()


def test_dry_run_with_the_data_shows_the_protocol(data, empty_hub):
    args = ["evaluate", "--protocol", NAME, "--model", "teacher", "--dry-run", "--json"]
    for key, path in data.items():
        args += ["--data", f"{key}={path}"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["protocol"]["name"] == NAME and plan["images_per_generator"] == 5_000
    assert set(plan["protocol"]["metrics"]) == {"fid_t", "patch_fid_t", "clip_score", "hpsv2", "pickscore",
                                                "image_reward"}


def test_table_1_is_filed_per_teacher_with_each_metrics_direction():
    sets = {p.name: records for p, records in reported_sets()}
    for name, n_rows in GROUPS.items():
        spec = SPECS.get(name)
        records = sets[spec.reported]
        assert len(records) == n_rows
        assert all(r["source"]["citation"] == SENSEFLOW_CITATION for r in records)
        ours = [r for r in records if r["generator"]["name"].startswith("SenseFlow")]
        measured = {f.metric for f in spec.fids} | {"clip_score"} | {n for n, _ in spec.scores}
        assert ours and all(set(r["metrics"]) == measured for r in ours)  # every measured metric has its number
    dmd2 = next(r for r in sets["paper-senseflow-coco5k-sdxl"] if r["generator"]["name"] == "DMD2-SDXL")
    assert (dmd2["metrics"]["fid_t"]["value"], dmd2["metrics"]["patch_fid_t"]["value"]) == (15.04, 18.72)
    assert dmd2["metrics"]["fid_t"]["higher_is_better"] is False
    assert dmd2["metrics"]["pickscore"]["higher_is_better"] is True
    teacher = next(r for r in sets["paper-senseflow-coco5k-flux"] if r["generator"]["name"] == "FLUX.1 dev (25 NFE)")
    assert teacher["generator"] == {"name": "FLUX.1 dev (25 NFE)", "steps": None, "nfe": 25}
    assert "fid_t" not in teacher["metrics"]  # the table prints no FID-T for a teacher


def test_the_committed_leaderboards_hold_table_1_and_render():
    for protocol, records in reported_sets():
        if not protocol.name.startswith("paper-senseflow"):
            continue
        header, entries = store.read(LEADERBOARDS / f"{protocol.name}-v1.jsonl")
        assert header["fingerprint"] == protocol.fingerprint
        assert sorted(json.dumps(e.record, sort_keys=True) for e in entries) == \
            sorted(json.dumps(r, sort_keys=True) for r in records)
        table = render.markdown(header, entries, sort_by="patch_fid_t")
        assert "patch FID-T" in table and all(r["generator"]["name"] in table for r in records)
