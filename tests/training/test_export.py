"""`export_run` on tiny diffusers runs: the exported folder loads and samples with `DiffusionPipeline`, the LoRA in
diffusers' format applied to the teacher gives the fused student's outputs, and the record names run, config and
the sha256 of every file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ddmd_bench import hashing
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.export import (LORA_FOLDER, LORA_WEIGHT_NAME, RECORD, ExportError, export_run,
                                        read_student)
from ddmd_bench.training.losses import DMDLossConfig
from ddmd_bench.training.trainer import Trainer
from tests.factories import tiny_sd3_pipeline, tiny_sd_pipeline

FACTORIES = {"epsilon": lambda d: tiny_sd_pipeline(d, "epsilon"), "flow": tiny_sd3_pipeline}
# Fused (W + BA) and unfused (Wx + B(Ax)) LoRA differ only by float32 rounding; the trained LoRA moves the output
# by orders of magnitude more than this (checked in the test).
ATOL, RTOL = 1e-4, 1e-4


def _train(tmp_path, kind: str, lora_rank: int = 4) -> tuple[DistillConfig, object]:
    FACTORIES[kind](tmp_path / "tok").save_pretrained(tmp_path / "teacher")
    (tmp_path / "prompts.txt").write_text("a red cat\na blue dog\n")
    cfg = DistillConfig(teacher=str(tmp_path / "teacher"), loss=DMDLossConfig(guidance=2.0), student_steps=2,
                        steps=2, batch_size=2, lora_rank=lora_rank, save_every=10, lr=3e-3, lr_fake=1e-4,
                        warmup_steps=1, divergence_std=1e6)  # random-weight epsilon teachers give huge x0
    Trainer(cfg, tmp_path / "run", prompts=str(tmp_path / "prompts.txt")).run()
    return cfg, tmp_path / "run"


def _from_pretrained(folder):
    """`DiffusionPipeline.from_pretrained`, passing None for components saved as null (the tiny SD3 has no T5),
    which diffusers asks for explicitly."""
    from diffusers import DiffusionPipeline

    index = json.loads((folder / "model_index.json").read_text())
    nulls = {k: None for k, v in index.items() if v == [None, None]}
    return DiffusionPipeline.from_pretrained(folder, **nulls)


def _latents(pipe, steps: int):
    # SD3's pipeline does not hand its generator to `scheduler.step`, so the stochastic flow sampler's re-noising
    # draws from the global RNG: seed it too.
    torch.manual_seed(0)
    return pipe(["a red cat", "a blue dog"], num_inference_steps=steps, guidance_scale=1.0, height=8, width=8,
                output_type="latent", generator=torch.Generator().manual_seed(0)).images


@pytest.fixture(scope="module", params=list(FACTORIES))
def exported(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(f"export-{request.param}")
    cfg, run = _train(tmp_path, request.param)
    return request.param, cfg, run, export_run(run, tmp_path / "out")


def test_export_loads_with_diffusers_and_the_lora_reproduces_the_fused_student(exported):
    kind, cfg, run, result = exported
    out = result.out_dir
    fused = _from_pretrained(out)
    meta = json.loads((out / "ddmd_bench.json").read_text())
    assert meta["num_inference_steps"] == 2 and meta["guidance_scale"] == 1.0
    expected_scheduler = "FlowMatchEulerDiscreteScheduler" if kind == "flow" else "LCMScheduler"
    assert type(fused.scheduler).__name__ == expected_scheduler
    student = _latents(fused, 2)
    assert torch.isfinite(student).all()

    base = _from_pretrained(Path(cfg.teacher))
    base.scheduler = type(fused.scheduler).from_pretrained(out, subfolder="scheduler")
    teacher = _latents(base, 2)
    base.load_lora_weights(out / LORA_FOLDER, weight_name=LORA_WEIGHT_NAME)
    with_lora = _latents(base, 2)
    torch.testing.assert_close(with_lora, student, atol=ATOL, rtol=RTOL)
    # The LoRA changes the output far beyond that tolerance, so the match is not the teacher matching itself.
    assert (teacher - student).abs().max() > 100 * ATOL


def test_export_record_names_run_config_and_file_hashes(exported):
    _, cfg, run, result = exported
    out = result.out_dir
    record = json.loads((out / RECORD).read_text())
    assert record == json.loads(json.dumps(result.record, default=str))
    student = read_student(run)
    assert record["student"]["run"] == str(run) and record["student"]["sha256"] == student.sha256
    assert record["student"]["sha256"] == hashing.file_sha256(run / "student.safetensors")
    assert record["student"]["distill_config"]["teacher"] == cfg.teacher
    assert record["student"]["distill_config"]["lora_rank"] == 4 and record["lora"]["rank"] == 4
    written = {p.relative_to(out).as_posix() for p in hashing.folder_files(out)} - {RECORD}
    assert set(record["files"]) == written and f"{LORA_FOLDER}/{LORA_WEIGHT_NAME}" in written
    assert all(hashing.file_sha256(out / name) == sha for name, sha in record["files"].items())


def test_full_fine_tune_exports_without_lora(tmp_path):
    _, run = _train(tmp_path, "flow", lora_rank=0)
    result = export_run(run, tmp_path / "out")
    assert result.record["lora"] is None and not (tmp_path / "out" / LORA_FOLDER).exists()
    assert torch.isfinite(_latents(_from_pretrained(tmp_path / "out"), 2)).all()


def test_export_refuses_missing_student_and_occupied_folder(tmp_path, exported):
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "state.pt").write_bytes(b"")
    with pytest.raises(ExportError, match=r"no trained student .*re-run its train command"):
        export_run(tmp_path / "unfinished", tmp_path / "a")
    _, _, run, _ = exported
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(ExportError, match="already exists and is not empty"):
        export_run(run, tmp_path / "taken")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no half-written folder left
