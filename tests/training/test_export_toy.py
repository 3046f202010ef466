"""Toy runs without shipping: a toy run exports its student file, loads from the run folder, the export folder or
the file with the file's sha256 as identity; and `--ship` refuses to overwrite shipped weights without force."""

from __future__ import annotations

import json

import pytest
import torch

from ddmd_bench import hashing
from ddmd_bench.tracks.toy import runs, shipped
from ddmd_bench.tracks.toy.distill import run_preset
from ddmd_bench.tracks.toy.loaders import load_denoiser
from ddmd_bench.tracks.toy.model_training import SCORING_MODELS, train_scoring_model, train_teacher
from ddmd_bench.tracks.toy.pipeline import ToySampler
from ddmd_bench.tracks.toy.shipping import ShipRefused, check_can_ship
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.export import RECORD, ExportError, export_run
from ddmd_bench.utils.checkpoint import export_safetensors

PRESET = "toy-ddmd-4step"
# A short run whose LoRA moves the student away from the teacher (no warm-up, a large learning rate).
TINY = {"steps": 2, "batch_size": 2, "warmup_steps": 1, "lr": 1e-2}
PROMPTS = ["a small red square at the top left", "a large blue circle at the center"]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("toy") / "run"
    run_preset(PRESET, run, TINY)
    return run


def _velocity(model, tokenizer):
    from ddmd_bench.tracks.toy import text

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 16, 16, generator=g)
    with torch.no_grad():
        return model(x, torch.tensor([0.75, 0.5]), model.encode(text.tokenize(tokenizer, PROMPTS)))


def _images(model, tokenizer, meta):
    from ddmd_bench.tracks.toy.models import TeacherConfig
    from ddmd_bench.tracks.toy.pipeline import SCHEDULERS

    steps = len(meta["student_sigmas"])
    scheduler = SCHEDULERS.get(runs.SAMPLER)(TeacherConfig.from_dict(meta["model_config"]), steps)
    return ToySampler(model, tokenizer, scheduler, steps).sample(PROMPTS, [1, 2])


def test_toy_run_exports_and_loads_by_content(toy_run, tmp_path):
    result = export_run(toy_run, tmp_path / "out")
    out = result.out_dir
    assert result.kind == "toy-student"
    sha = hashing.file_sha256(toy_run / "student.safetensors")
    assert hashing.file_sha256(out / runs.STUDENT_FILE) == sha
    record = json.loads((out / RECORD).read_text())
    assert record["student"]["sha256"] == sha and record["student"]["run"] == str(toy_run)
    assert record["student"]["distill_config"]["steps"] == TINY["steps"]
    assert record["files"] == {runs.STUDENT_FILE: sha}
    assert record["sampler"] == {"steps": 4, "scheduler": "flow-dmd", "guidance": 1.0}

    loaded = [runs.load_student(p) for p in (toy_run, out, out / runs.STUDENT_FILE)]
    assert {meta["sha256"] for _, _, meta in loaded} == {sha}
    velocities = [_velocity(model, tok) for model, tok, _ in loaded]
    for v in velocities[1:]:
        torch.testing.assert_close(v, velocities[0], atol=0, rtol=0)
    cold = runs.load_student(out, cached=False)
    torch.testing.assert_close(_velocity(*cold[:2]), velocities[0], atol=0, rtol=0)
    teacher, tok, _ = load_denoiser("teacher")
    assert (_velocity(teacher, tok) - velocities[0]).abs().max() > 1e-3  # the student is not the teacher
    from_run, from_export = _images(*loaded[0]), _images(*loaded[1])
    assert from_run.shape == (2, 3, 16, 16) and torch.equal(from_run, from_export)


def test_toy_student_of_another_teacher_is_refused(toy_run, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(toy_run / "student.safetensors"), "pt") as f:
        meta = dict(f.metadata())
    extras = json.loads(meta["teacher_extras"])
    meta["teacher_extras"] = json.dumps({**extras, "teacher_sha256": "0" * 64})
    export_safetensors(load_file(str(toy_run / "student.safetensors")), tmp_path / "student.safetensors", meta)
    with pytest.raises(shipped.WeightsError, match="distilled from teacher 000000000000"):
        runs.load_student(tmp_path / "student.safetensors")
    with pytest.raises(shipped.WeightsError, match="distilled from teacher 000000000000"):
        export_run(tmp_path, tmp_path / "out")


def test_a_diffusers_run_is_not_a_toy_student(tmp_path):
    meta = {"distill_config": json.dumps(DistillConfig(teacher=str(tmp_path / "sd")).to_dict()),
            "student_sigmas": "[1.0]"}
    export_safetensors({"w": torch.zeros(1)}, tmp_path / "student.safetensors", meta)
    with pytest.raises(ExportError, match="not the toy teacher"):
        runs.load_student(tmp_path)


def test_ship_refuses_to_overwrite_without_force(weights_copy, tmp_path):
    target = weights_copy / "ddmd-4step.safetensors"
    before = target.read_bytes()
    with pytest.raises(ShipRefused, match=rf"{target}.*--force"):
        run_preset(PRESET, tmp_path / "run", TINY, ship=True)
    assert not (tmp_path / "run").exists() and target.read_bytes() == before  # refused before training
    for name, trainer in (("teacher", train_teacher),
                          ("classifier", lambda out, steps, ship: train_scoring_model(SCORING_MODELS[0], out, steps,
                                                                                      ship))):
        with pytest.raises(ShipRefused, match=rf"{weights_copy / name}\.safetensors.*--force"):
            trainer(tmp_path / name, 1, True)
        assert not (tmp_path / name).exists()
    check_can_ship("a-new-student", force=False)  # nothing shipped under that name: no refusal

    info = run_preset(PRESET, tmp_path / "run", TINY, ship=True, force=True)
    entry = shipped.read_manifest()["files"][target.name]
    assert info["shipped_to"] == str(target) and target.read_bytes() != before
    assert entry["sha256"] == hashing.file_sha256(target) and entry["distill_config"]["steps"] == TINY["steps"]


def test_export_command_writes_the_student_and_its_record(toy_run, tmp_path):
    from click.testing import CliRunner

    from ddmd_bench.cli import main

    out = tmp_path / "exported"
    result = CliRunner().invoke(main, ["export", str(toy_run), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["out"] == str(out) and (out / RECORD).exists()
    assert record["student"]["sha256"] == hashing.file_sha256(out / "student.safetensors")
    again = CliRunner().invoke(main, ["export", str(toy_run), "--out", str(out)])  # an occupied folder: refused
    assert again.exit_code == 1 and "Traceback" not in again.output and str(out) in again.output


def test_train_ship_without_force_is_a_clear_cli_error(weights_copy, tmp_path):
    from click.testing import CliRunner

    from ddmd_bench.cli import main

    result = CliRunner().invoke(main, ["train", "classifier", "--out", str(tmp_path / "c"), "--steps", "1", "--ship"])
    assert result.exit_code == 1 and "--force" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c").exists()
