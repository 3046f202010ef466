"""A FID-T reference made by its teacher: the teacher generates the protocol's prompts with the protocol's seeds, the
images are reduced to the protocol's statistics (`reference_stats.make_reference_stats`), and the file records which
teacher, sampling recipe, prompts and seeds made them (`metrics.teacher_outputs.TeacherOutputs`).

The identity is read from what is loaded, never typed in: the teacher is the pipeline's repository id (or folder),
its weights the content sha256 of every file the pipeline loads, its recipe what the generator describes (scheduler
and its config, steps, guidance, resolution, dtype and device, diffusers version).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ddmd_bench.metrics.teacher_outputs import TeacherOutputs
from ddmd_bench.prompts import PromptSet
from ddmd_bench.tracks.literature import datafiles
from ddmd_bench.tracks.literature.build import load_prompts
from ddmd_bench.tracks.literature.specs import SPECS, FidSpec, LiteratureSpec

if TYPE_CHECKING:
    from ddmd_bench.generators.resolve import GeneratorOptions

log = logging.getLogger(__name__)

IDENTITY_FILE = "teacher.json"  # in an images folder: whose images these are (a rerun continues only the same)


def seed_rule(spec: LiteratureSpec) -> str:
    """The protocol's seed rule, as `build.build` records it (image i of the prompt list gets seed_base + i)."""
    return f"seed_i = {spec.seed_base} + i"


def protocol_prompts(spec: LiteratureSpec, data: Mapping[str, str | Path]) -> PromptSet:
    """The protocol's full prompt list from the user's prompt data file (one of the protocol's prompt sources)."""
    sources = tuple(s.file for s in spec.prompt_sources)
    datafiles.check_keys(spec.name, sources, data)
    captions = datafiles.one_of(spec.name, sources, data)
    source = next(s for s in spec.prompt_sources if s.file.key == captions.spec.key)
    return load_prompts(spec, source, captions.path)


def teacher_fid(protocol: str, metric: str) -> tuple[LiteratureSpec, FidSpec]:
    """The protocol and its teacher FID `metric` (checked before any model is loaded): an unknown protocol or
    metric, or a FID against real images, is an error that says what to do."""
    spec = SPECS.get(protocol)
    teacher_metrics = [f.metric for f in spec.fids if f.teacher is not None]
    if metric not in teacher_metrics:
        what = (f"its teacher metrics are {', '.join(teacher_metrics)}" if teacher_metrics else
                "it measures FID against real images only: make those statistics from the images "
                f"(`ddmd-bench stats make IMAGES --protocol {protocol} --metric {spec.fids[0].metric}`)")
        raise ValueError(f"protocol {protocol} has no teacher metric {metric!r}; {what}")
    return spec, spec.fid(metric)


def teacher_outputs(generator, prompt_set: Mapping[str, Any], rule: str) -> TeacherOutputs:
    """The identity of `generator`'s images for a prompt set (`PromptSet.ref()`) and seed rule. Only a whole pipeline
    (a published teacher recipe or a pipeline) is a teacher: a recipe that loads a student or a LoRA is refused."""
    from ddmd_bench.generators.diffusers import DiffusersGenerator  # torch: only when a reference is made

    if not isinstance(generator, DiffusersGenerator):
        raise TypeError(f"{generator.name}: a teacher reference is made by a diffusers pipeline (a published recipe "
                         "such as sdxl-base, or pipeline:PATH / pipeline:ORG/NAME); this generator is not one")
    recipe = generator.recipe
    if recipe.student is not None or recipe.lora is not None:
        raise ValueError(f"{recipe.name} samples a student or LoRA on {recipe.base.label}, not the teacher itself; "
                         f"name the teacher's own recipe or pipeline")
    described = generator.describe()
    return TeacherOutputs(teacher=recipe.base.label, weights_sha256=described["files"]["base"]["content_sha256"],
                          recipe={k: v for k, v in described.items() if k != "files"},
                          prompt_set=dict(prompt_set), seed_rule=rule)


def make_teacher_reference(protocol: str, metric: str, teacher: str, data: Mapping[str, str | Path],
                           out: str | Path, options: GeneratorOptions | None = None, images: str | Path | None = None,
                           weights: str | Path | None = None, batch_size: int = 16,
                           progress: bool = True) -> dict[str, Any]:
    """Generate the `teacher`'s images for `protocol`'s prompts (from `data`) and seeds, then make the statistics of
    `metric` (fid_t or patch_fid_t) from them with the teacher's identity. `teacher`: a published recipe ('sdxl-base'
    or 'method:sdxl-base') or a whole pipeline ('pipeline:PATH', 'pipeline:ORG/NAME@REV'), built with `options`
    (overrides such as steps, run settings). `images`: a folder that keeps the PNGs (a rerun with the same teacher,
    prompts and seeds continues it); default a temporary one, removed after. The protocol, metric and prompt file
    are checked before any weights are looked for. Returns the file's info (`stats info`)."""
    from ddmd_bench.generators.resolve import KINDS, resolve_generator
    from ddmd_bench.tracks.literature.reference_stats import make_reference_stats

    spec, fid = teacher_fid(protocol, metric)
    prompts = protocol_prompts(spec, data)
    kind, sep, _ = teacher.partition(":")
    generator = resolve_generator(teacher if sep and kind in KINDS else f"method:{teacher}", options)
    outputs = teacher_outputs(generator, prompts.ref(), seed_rule(spec))
    if outputs.teacher != fid.teacher:
        raise ValueError(f"protocol {protocol}, metric {metric}: the statistics must be of {fid.teacher}'s images; "
                         f"{generator.name} loads {outputs.teacher}")
    if generator.resolution != spec.resolution:
        raise ValueError(f"{generator.name} generates at {generator.resolution}, protocol {protocol} at "
                         f"{spec.resolution}: the teacher's images must be made as the students' are")
    seeds = [spec.seed_base + i for i in range(len(prompts.prompts))]
    if images is not None:
        _generate(generator, prompts.prompts, seeds, outputs, Path(images), batch_size, progress)
        return make_reference_stats(protocol, metric, images, out, weights, batch_size, teacher=outputs)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="teacher-images-", dir=Path(out).parent) as folder:
        _generate(generator, prompts.prompts, seeds, outputs, Path(folder), batch_size, progress)
        return make_reference_stats(protocol, metric, folder, out, weights, batch_size, teacher=outputs)


def _generate(generator, prompts: list[str], seeds: list[int], outputs: TeacherOutputs, folder: Path,
              batch_size: int, progress: bool) -> None:
    """Image i as folder/{i:06d}.png (lossless: the statistics see the generated uint8 pixels); images already in a
    folder made by the same teacher, prompts and seeds are kept, a folder of other images is refused."""
    import numpy as np
    from PIL import Image

    from ddmd_bench.utils.progress import Progress

    identity = {"teacher": outputs.to_dict(), "seeds": seeds}
    marker = folder / IDENTITY_FILE
    folder.mkdir(parents=True, exist_ok=True)
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) != identity:
        raise ValueError(f"{folder} holds images of another teacher, recipe, prompt list or seeds ({marker}); "
                         "give an empty folder, or remove it")
    if not marker.exists():
        if any(folder.iterdir()):
            raise ValueError(f"{folder} is not empty and has no {IDENTITY_FILE}: give an empty folder for the images")
        marker.write_text(json.dumps(identity, indent=1, sort_keys=True), encoding="utf-8")
    paths = [folder / f"{i:06d}.png" for i in range(len(prompts))]
    todo = [i for i, p in enumerate(paths) if not p.exists()]
    with Progress(len(paths), "teacher images", "img", initial=len(paths) - len(todo), enabled=progress) as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            batch = generator.generate([prompts[i] for i in chunk], [seeds[i] for i in chunk])
            for i, image in zip(chunk, batch):
                partial = paths[i].with_suffix(".part")
                Image.fromarray(np.ascontiguousarray(image.permute(1, 2, 0).cpu().numpy())).save(partial, "PNG")
                partial.replace(paths[i])  # a killed run leaves no half-written image behind
            bar.update(len(chunk))
    log.info("%d teacher images in %s (%d generated now)", len(paths), folder, len(todo))
