"""Toy students straight from training runs, without shipping them: a run's EMA student exported to a folder,
loading a student from a run folder, such an export folder or the student file itself, and the generator that
`evaluate --run` samples it with (`run_generator`, found through `training.export.RUN_GENERATORS`).

A student is identified by the sha256 of its file: a run folder and its export hold the same bytes, so they load
the same model under the same identity. The file's metadata (written by the trainer) carries the config, the
teacher's sha256 and the student's grid, so nothing else is needed besides the shipped teacher it was distilled
from, which is checked.
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from ddmd_bench.generators.resolve import GeneratorOptions
from ddmd_bench.generators.settings import RunSettings
from ddmd_bench.tracks.toy import shipped
from ddmd_bench.tracks.toy.bundle import TEACHER
from ddmd_bench.tracks.toy.generator_specs import ToyGeneratorSpec
from ddmd_bench.tracks.toy.generators import ToyGenerator
from ddmd_bench.tracks.toy.loaders import load_denoiser, student_model
from ddmd_bench.tracks.toy.models import ToyDenoiser
from ddmd_bench.training.export import (ExportError, RunExport, TrainedStudent, read_student,
                                        read_student_file, run_name)

STUDENT_FILE = "student.safetensors"  # the exported copy's name: a run's own file name, so it is also a run folder
SAMPLER = "flow-dmd"  # the chain toy students were trained on (predict x0, re-noise at the next level)


def export_toy_run(student: TrainedStudent, out_dir: Path) -> RunExport:
    """The run's student file, byte for byte, and the record of the export (written by `export_run`)."""
    _check_teacher(student)
    shutil.copyfile(student.path, out_dir / STUDENT_FILE)
    record = {"kind": "toy-student", "student": student.describe(), "sampler": sampler_defaults(student),
              "loader": "ddmd_bench.tracks.toy.runs:load_student"}
    return RunExport(out_dir, "toy-student", record)


def sampler_defaults(student: TrainedStudent) -> dict[str, Any]:
    """How the student samples: its step count on the DMD chain, without guidance (as shipped students do)."""
    return {"steps": student.steps, "scheduler": SAMPLER, "guidance": 1.0}


def read(path: str | Path) -> TrainedStudent:
    """The student of a run folder, an export folder or a student file."""
    path = Path(path)
    student = read_student_file(path) if path.is_file() else read_student(path)
    if student.config.teacher != TEACHER:
        raise ExportError(f"{student.path} was distilled from {student.config.teacher!r}, not the toy teacher; "
                          f"export it with `ddmd-bench export` and evaluate the pipeline folder")
    return student


def _check_teacher(student: TrainedStudent, cached: bool = True) -> tuple[ToyDenoiser, object, dict]:
    teacher, tokenizer, meta = load_denoiser("teacher", cached)
    distilled_from = student.teacher_record.get("teacher_sha256")
    if distilled_from != meta["sha256"]:
        raise shipped.WeightsError(
            f"{student.path} was distilled from teacher {str(distilled_from)[:12]}, but the shipped teacher is "
            f"{meta['sha256'][:12]}; retrain the student on the current teacher")
    return teacher, tokenizer, meta


def load_student(path: str | Path, cached: bool = True) -> tuple[ToyDenoiser, object, dict[str, Any]]:
    """(denoiser, tokenizer, meta) of the student at `path`, as `loaders.load_denoiser` returns a shipped model;
    meta['sha256'] is the student file's sha256 (its identity). `cached=False` reads and builds everything again."""
    student = read(path)
    if cached:
        return _cached_student(str(student.path.resolve()), student.sha256)
    return _build(student, cached=False)


@lru_cache(maxsize=8)
def _cached_student(path: str, sha256: str) -> tuple[ToyDenoiser, object, dict[str, Any]]:
    # Keyed by content as well as path: a retrained run at the same path is a different student.
    student = read_student_file(path)
    if student.sha256 != sha256:
        raise ExportError(f"{path} changed while it was being loaded")
    return _build(student, cached=True)


def _build(student: TrainedStudent, cached: bool) -> tuple[ToyDenoiser, object, dict[str, Any]]:
    teacher, tokenizer, teacher_meta = _check_teacher(student, cached)
    model = student_model(teacher, student.state(), student.lora_rank)
    meta = {"kind": "student", "sha256": student.sha256, "source": str(student.path),
            "model_config": teacher_meta["model_config"], "teacher_sha256": teacher_meta["sha256"],
            "student_sigmas": list(student.student_sigmas), "lora_rank": student.lora_rank,
            "distill_config": student.config.to_dict()}
    return model, tokenizer, meta


class RunStudentGenerator(ToyGenerator):
    """A `Generator` over the student of a toy run (a run folder, its export, or the student file): the shipped
    models' sampler, with weights from `load_student`. Its identity holds the student file's path and sha256."""

    def __init__(self, path: Path, spec: ToyGeneratorSpec, name: str, cached: bool = True) -> None:
        self.path = path
        super().__init__(spec, cached, name)

    def _load(self, cached: bool) -> tuple[ToyDenoiser, object, dict[str, Any]]:
        """The run's student in place of a shipped model."""
        return load_student(self.path, cached)

    def fresh(self) -> RunStudentGenerator:
        """A new instance that reads, verifies and builds the student again (what a cold start times)."""
        return RunStudentGenerator(self.path, self.spec, self.name, cached=False)

    def describe(self) -> dict[str, Any]:
        """The shipped models' record, with the student file in place of a shipped model name."""
        return {**super().describe(), "model": "run-student",
                "student": {"file": self._meta["source"], "sha256": self._meta["sha256"],
                            "teacher_sha256": self._meta["teacher_sha256"],
                            "student_sigmas": self._meta["student_sigmas"], "lora_rank": self._meta["lora_rank"]}}


def run_generator(student: TrainedStudent, options: GeneratorOptions) -> RunStudentGenerator:
    """The run's student with its own sampler (`sampler_defaults`); --steps, --guidance and --compile change it,
    the diffusers-only overrides and run settings are refused before anything is loaded."""
    overrides = options.overrides.items() if options.overrides is not None else {}
    unsupported = [f"--{k}" for k in sorted(set(overrides) - {"steps", "guidance"})]
    unsupported += _unsupported_settings(options.settings)
    if unsupported:
        raise ExportError(f"a toy run samples on the toy DMD chain at 16 px, in float32 on the CPU, without a VAE: "
                          f"{', '.join(unsupported)} cannot be applied (--steps, --guidance and --compile can); "
                          f"leave them out for a toy run")
    defaults = sampler_defaults(student)
    steps, guidance = overrides.get("steps", defaults["steps"]), overrides.get("guidance", defaults["guidance"])
    compile_ = options.settings is not None and options.settings.compile
    spec = ToyGeneratorSpec("run-student", steps, guidance, defaults["scheduler"], compile_)
    name = options.name or run_name(student) + "".join(f"[{k}={v}]" for k, v in overrides.items())
    return RunStudentGenerator(student.path, spec, name)


def _unsupported_settings(settings: RunSettings | None) -> list[str]:
    """The run settings a toy student cannot honour (its sampler has one dtype, one device and no VAE)."""
    if settings is None:
        return []
    given = {"--dtype": settings.dtype not in (None, "float32"), "--offload": settings.offload != "none",
             "--vae-tiling": settings.vae_tiling, "--vae-slicing": settings.vae_slicing,
             "--attention-backend": settings.attention_backend is not None,
             f"device {settings.device}": settings.device not in (None, "cpu")}
    return [flag for flag, on in given.items() if on]
