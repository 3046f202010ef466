"""Export a student as a diffusers pipeline directory: the teacher's pipeline with the distilled network (LoRA
folded in) and the few-step scheduler it was trained for, so `DiffusionPipeline.from_pretrained(dir)` followed by
`pipe(prompt, num_inference_steps=k, guidance_scale=...)` samples exactly like the trainer's student chain.

`export_run` does this for a finished training run folder: it reads the run's EMA student file (which carries its
config, teacher facts and grid in its safetensors metadata), rebuilds the student on the teacher, and writes the
fused pipeline, the LoRA in diffusers' own LoRA file format (when the student is a LoRA) and `export.json`, the
record of the export. Runs distilled from a track's own teacher (not a diffusers folder) are exported by that
track, found through `RUN_EXPORTERS`.

`run_generator` is what `evaluate --run RUN_DIR` runs: a run on a diffusers teacher is exported once to
`RUN_DIR/pipeline` by `export_run` (kept while its student and teacher are unchanged) and sampled as that pipeline,
so a run and its export give the same images; a track's run is built by its track (`RUN_GENERATORS`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from filelock import FileLock

from ddmd_bench import hashing
from ddmd_bench.recipes.generic import generic_recipe
from ddmd_bench.registry import Registry
from ddmd_bench.training import lora
from ddmd_bench.training.bundle import TeacherBundle
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.utils.pipelines import pipeline_files

if TYPE_CHECKING:
    from ddmd_bench.generators.base import Generator
    from ddmd_bench.generators.resolve import GeneratorOptions

log = logging.getLogger(__name__)

_NET_SLOTS = ("unet", "transformer")
# What a run folder holds after training: the EMA student, or (a diverged run exported with --ship-last-good) the
# last good checkpoint's EMA student. The first one present is exported.
STUDENT_FILES = ("student.safetensors", "student-last-good.safetensors")
RECORD = "export.json"  # the record of an export, beside the files it describes
LORA_FOLDER = "lora"
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # diffusers' default LoRA file name


def export_pipeline(teacher: TeacherBundle, student: torch.nn.Module, steps: int, out_dir: str | Path,
                    info: dict | None = None) -> Path:
    """Write the student pipeline to `out_dir`; returns it. Only for teachers loaded from diffusers pipelines."""
    pipe = teacher.pipeline
    if pipe is None:
        raise ValueError(f"teacher {teacher.name!r} is not a diffusers pipeline; its student is exported as "
                         f"safetensors by the trainer (and shipped by the track that supplied the teacher)")
    net = copy.deepcopy(teacher.net)
    state = lora.merged_state(student) if any("lora_" in k for k in student.state_dict()) else student.state_dict()
    net.load_state_dict(state)
    slot = _slot(teacher)
    scheduler = teacher.few_step_scheduler(steps)
    components = {**pipe.components, slot: net.eval(), "scheduler": scheduler}
    exported = type(pipe)(**components)
    out_dir = Path(out_dir)
    exported.save_pretrained(out_dir, safe_serialization=True)
    (out_dir / "ddmd_bench.json").write_text(json.dumps(
        {"num_inference_steps": steps, "guidance_scale": 1.0, **(info or {})}, indent=1, default=str) + "\n")
    log.info("exported %d-step student pipeline to %s", steps, out_dir)
    return out_dir


def _slot(teacher: TeacherBundle) -> str:
    """The pipeline component that holds the teacher network ('unet' or 'transformer')."""
    return next(s for s in _NET_SLOTS if getattr(teacher.pipeline, s, None) is teacher.net)


class ExportError(ValueError):
    """A run folder cannot be exported (no student yet, a missing teacher, an occupied output folder)."""


@dataclass(frozen=True)
class TrainedStudent:
    """The EMA student file of a run and what its metadata says about it (written by `Trainer.export`)."""

    run_dir: Path
    path: Path
    sha256: str
    config: DistillConfig
    teacher: str  # the bundle's name, e.g. 'sd-unet' or 'toy-teacher'
    teacher_record: dict[str, Any]  # the bundle's `record()`: teacher weights sha256 and model config, when known
    student_sigmas: tuple[float, ...]

    @property
    def steps(self) -> int:
        """Sampling steps of the student: one per level of its grid."""
        return len(self.student_sigmas)

    @property
    def lora_rank(self) -> int:
        """Rank of the student's LoRA; 0 for a fully fine-tuned student."""
        return self.config.lora_rank

    def state(self) -> dict[str, torch.Tensor]:
        """The trained tensors (LoRA with peft names, or the whole network)."""
        from safetensors.torch import load_file  # part of the torch stack, loaded only to read a student

        return load_file(str(self.path))

    def describe(self) -> dict[str, Any]:
        """What an export record says about the student."""
        return {"run": str(self.run_dir), "file": self.path.name, "sha256": self.sha256, "teacher": self.teacher,
                **self.teacher_record, "student_sigmas": list(self.student_sigmas), "lora_rank": self.lora_rank,
                "distill_config": self.config.to_dict()}


def read_student(run_dir: str | Path) -> TrainedStudent:
    """The student of run folder `run_dir` (or of an export that copied its file), from the file's metadata."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"run folder {run_dir} does not exist")
    path = next((run_dir / name for name in STUDENT_FILES if (run_dir / name).is_file()), None)
    if path is None:
        unfinished = " (it has a checkpoint: re-run its train command to finish it)" \
            if (run_dir / "state.pt").is_file() else ""
        raise ExportError(f"{run_dir} holds no trained student ({' or '.join(STUDENT_FILES)}){unfinished}")
    return read_student_file(path, run_dir)


def read_student_file(path: str | Path, run_dir: str | Path | None = None) -> TrainedStudent:
    """A student file written by the trainer (or copied by an export), read from its metadata; `run_dir` is where
    it came from (its folder when not given)."""
    from safetensors import safe_open  # part of the torch stack, loaded only to read a student

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"student file {path} does not exist")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "distill_config" not in meta or "student_sigmas" not in meta:
        raise ExportError(f"{path} is not a student written by the trainer (no distill_config in its metadata)")
    run_dir = Path(run_dir) if run_dir is not None else path.parent
    return TrainedStudent(run_dir, path, hashing.file_sha256(path),
                          DistillConfig.from_dict(json.loads(meta["distill_config"])), meta.get("teacher", ""),
                          json.loads(meta.get("teacher_extras", "{}")),
                          tuple(float(v) for v in json.loads(meta["student_sigmas"])))


@dataclass(frozen=True)
class RunExport:
    """An exported run: the folder written, what kind of export it is, and its record (also in `export.json`)."""

    out_dir: Path
    kind: str
    record: dict[str, Any]


# A track's named teacher (a run config's `teacher` that is not a folder) -> the track's exporter of such runs.
RunExporter = Callable[[TrainedStudent, Path], RunExport]
RUN_EXPORTERS: Registry[RunExporter] = Registry("teacher with a run exporter")
RUN_EXPORTERS.add_lazy("toy", "ddmd_bench.tracks.toy.runs:export_toy_run")


def export_run(run_dir: str | Path, out_dir: str | Path) -> RunExport:
    """Export the student of a training run to `out_dir` (a new or empty folder, filled atomically)."""
    student = read_student(run_dir)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportError(f"{out_dir} already exists and is not empty; choose another output folder or delete it")
    teacher = student.config.teacher
    if teacher not in RUN_EXPORTERS and not Path(teacher).is_dir():
        raise ExportError(f"the teacher of {student.run_dir}, {teacher!r}, is neither a diffusers pipeline folder "
                          f"that exists nor a track's teacher ({', '.join(RUN_EXPORTERS.names())})")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        exporter = RUN_EXPORTERS.get(teacher) if teacher in RUN_EXPORTERS else export_diffusers_run
        result = exporter(student, work)
        write_record(work, result.record)
        os.replace(work, out_dir)  # an empty target folder is replaced as a whole
    finally:
        if work.exists():
            shutil.rmtree(work)
    log.info("exported %s (%s) to %s", student.run_dir, result.kind, out_dir)
    return RunExport(out_dir, result.kind, result.record)


def write_record(folder: Path, record: dict[str, Any]) -> None:
    """`export.json`: the record with the sha256 of every file in `folder` (the record itself excepted)."""
    files = [p for p in hashing.folder_files(folder) if p.name != RECORD or p.parent != folder]
    record["files"] = {d.path: d.sha256 for d in hashing.digest_files(folder, files)}
    (folder / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")


def student_network(teacher: TeacherBundle, student: TrainedStudent) -> torch.nn.Module:
    """The teacher's network with the student's trained weights: a peft LoRA on it, or the whole network."""
    with torch.random.fork_rng(devices=[]):  # LoRA initialisation draws, overwritten by the trained tensors
        net = teacher.copy_net()
        if student.lora_rank:
            lora.add_lora(net, student.lora_rank)
    lora.load_trainable_state(net, student.state())
    return net.eval().requires_grad_(False)


def export_diffusers_run(student: TrainedStudent, out_dir: Path) -> RunExport:
    """A run on a diffusers teacher folder: the fused student pipeline with its few-step scheduler, plus the LoRA in
    diffusers' format under `lora/` (`pipe.load_lora_weights(out_dir / 'lora', weight_name=LORA_WEIGHT_NAME)` on the
    teacher pipeline, with the scheduler of `out_dir / 'scheduler'`)."""
    from ddmd_bench.training.denoisers import load_teacher  # loads diffusers: only when a run is exported

    teacher = load_teacher(student.config.teacher)
    grid = [round(float(v), 6) for v in teacher.student_sigmas(student.steps)]
    if grid != [round(v, 6) for v in student.student_sigmas]:
        raise ExportError(f"the teacher's few-step scheduler now gives levels {grid}, but {student.path} was trained "
                          f"at {list(student.student_sigmas)}; was the teacher folder {student.config.teacher} "
                          f"changed?")
    net = student_network(teacher, student)
    info = {"student_sha256": student.sha256, "student_sigmas": list(student.student_sigmas),
            "lora_rank": student.lora_rank}
    export_pipeline(teacher, net, student.steps, out_dir, info)
    slot = _slot(teacher)
    lora_record = None
    if student.lora_rank:
        layers, config = lora.peft_layers(net)
        save = type(teacher.pipeline).save_lora_weights
        save(out_dir / LORA_FOLDER, **{f"{slot}_lora_layers": layers, f"{slot}_lora_adapter_metadata": config},
             weight_name=LORA_WEIGHT_NAME, safe_serialization=True)
        lora_record = {"folder": LORA_FOLDER, "weight_name": LORA_WEIGHT_NAME, "component": slot,
                       "rank": student.lora_rank, "alpha": config["lora_alpha"], "base": student.config.teacher}
    teacher_folder = Path(student.config.teacher)
    record = {"kind": "diffusers-pipeline", "student": student.describe(),
              "teacher_folder": {"path": str(teacher_folder), "content_sha256": hashing.manifest_digest(
                  hashing.digest_files(teacher_folder, pipeline_files(teacher_folder)))},
              "pipeline": {"class": type(teacher.pipeline).__name__, "component": slot,
                           "scheduler": type(teacher.few_step_scheduler(student.steps)).__name__,
                           "num_inference_steps": student.steps, "guidance_scale": 1.0},
              "lora": lora_record}
    return RunExport(out_dir, "diffusers-pipeline", record)


# ---------------------------------------------------------------------------------------------- evaluating a run
EVAL_EXPORT = "pipeline"  # RUN_DIR/pipeline: the export that `evaluate --run` samples

# A track's named teacher -> the generator of such a run's student.
RunGenerator = Callable[[TrainedStudent, "GeneratorOptions"], "Generator"]
RUN_GENERATORS: Registry[RunGenerator] = Registry("teacher with a run generator")
RUN_GENERATORS.add_lazy("toy", "ddmd_bench.tracks.toy.runs:run_generator")


def run_generator(target: str, options: GeneratorOptions) -> Generator:
    """The student of training run folder `target` (`run:RUN_DIR`) as a generator, named `run:<folder>@<sha256 of
    the student file>` unless `options.name` says otherwise."""
    from ddmd_bench.generators.diffusers import recipe_generator  # torch and diffusers: only when a run is evaluated

    run_dir = Path(target)
    if (run_dir / "model_index.json").is_file():
        raise ExportError(f"{run_dir} is a diffusers pipeline folder, not a training run; evaluate it with "
                          f"--pipeline {run_dir}")
    student = read_student(run_dir)
    if student.config.teacher in RUN_GENERATORS:
        return RUN_GENERATORS.get(student.config.teacher)(student, options)
    folder = evaluation_export(student)
    recipe = generic_recipe(folder)
    return recipe_generator(dataclasses.replace(recipe, name=run_name(student), method="training run",
                                                sources=(str(student.path),)), options)


def run_name(student: TrainedStudent) -> str:
    """`run:<run folder name>@<first 8 hex digits of the student file's sha256>`."""
    return f"run:{student.run_dir.resolve().name}@{student.sha256[:8]}"


def evaluation_export(student: TrainedStudent) -> Path:
    """`RUN_DIR/pipeline`: the run's export, written by `export_run` unless the one there already holds this student
    on this teacher with every file intact (an export of an earlier student of the run is replaced)."""
    out = student.run_dir / EVAL_EXPORT
    with FileLock(str(student.run_dir / f".{EVAL_EXPORT}.lock")):  # the ranks of one evaluation export once
        if out.exists():
            if _export_is_current(out, student):
                return out
            if not (out / RECORD).is_file():
                raise ExportError(f"{out} exists but is not an export of {student.run_dir}; move it away so that "
                                  f"the run can be exported there")
            log.info("%s holds an export of another student or teacher: exporting again", out)
            shutil.rmtree(out)
        return export_run(student.run_dir, out).out_dir


def _export_is_current(out: Path, student: TrainedStudent) -> bool:
    try:
        record = json.loads((out / RECORD).read_text())
        teacher = Path(record["teacher_folder"]["path"])
        current = record["student"]["sha256"] == student.sha256 and str(teacher) == student.config.teacher \
            and record["teacher_folder"]["content_sha256"] == hashing.manifest_digest(
                hashing.digest_files(teacher, pipeline_files(teacher)))
        return current and all(hashing.file_sha256(out / name) == sha for name, sha in record["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False
