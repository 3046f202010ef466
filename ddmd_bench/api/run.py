"""`ddmd_bench.evaluate`: one call that evaluates a model object, a folder, a hub id or a shipped model.

It builds the same `EvaluationRequest` as `ddmd-bench evaluate` and runs it through `evaluation.suite`, so results,
record files and leaderboard entries are the command's. Inside a job launched by torchrun, every rank calls it
(an initialised process group is used as it is, never created or destroyed here); ranks share the prompts, rank 0
writes the records and the leaderboard and gets the results back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddmd_bench.evaluation import suite
from ddmd_bench.evaluation.records import Result
from ddmd_bench.generators.base import Generator
from ddmd_bench.generators.checkpoints import HUB_ID  # ORG/NAME; toy suite names have two slashes
from ddmd_bench.generators.resolve import KINDS, GeneratorOptions
from ddmd_bench.generators.settings import RunSettings
from ddmd_bench.protocol import Protocol
from ddmd_bench.recipes import Overrides
from ddmd_bench.utils.distributed import World

IN_MEMORY_DIR = "in-memory"  # under results_dir: pipeline objects saved for hashing, removed after the run

Model = str | os.PathLike | Generator | Any  # Any: a diffusers.DiffusionPipeline (diffusers loads lazily)


class EvaluationFailed(RuntimeError):
    """A generator's run failed (a metric, or degenerate images); `evaluation` holds what did finish."""

    def __init__(self, evaluation: Evaluation) -> None:
        super().__init__(f"{len(evaluation.failed)} run(s) failed: " + "; ".join(evaluation.failed))
        self.evaluation = evaluation


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` did: one `Result` per generator (on rank 0; other ranks get none), the results reused from
    earlier runs by name, and where the leaderboard entries went."""

    protocol: Protocol
    results: tuple[Result, ...]
    reused: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    leaderboard: Path | None = None
    added: int = 0
    reproduced: tuple[str, ...] = ()
    outcome: suite.Outcome | None = field(default=None, repr=False, compare=False)

    @property
    def result(self) -> Result:
        """The one result (an error when several generators ran, or on a rank other than 0)."""
        if len(self.results) != 1:
            raise ValueError(f"{len(self.results)} results; pick one from .results "
                             f"({', '.join(self.names) or 'results live on rank 0'})")
        return self.results[0]

    @property
    def names(self) -> list[str]:
        """The generators' names, in the order they ran."""
        return [r.generator["name"] for r in self.results]

    def values(self, generator: str | None = None) -> dict[str, float | None]:
        """Metric name -> value of one result (`generator`: its name; default: the only one)."""
        result = self.result if generator is None else self._named(generator)
        return {name: m.get("value") for name, m in result.metrics.items()}

    def table(self) -> str:
        """The table `ddmd-bench evaluate` prints."""
        return self.outcome.table() if self.outcome is not None else ""

    def summary(self) -> dict[str, Any]:
        """What `ddmd-bench evaluate --json` prints."""
        return self.outcome.summary() if self.outcome is not None else {}

    def _named(self, name: str) -> Result:
        for result in self.results:
            if result.generator["name"] == name:
                return result
        raise KeyError(f"no result named {name!r}; results: {', '.join(self.names)}")


def evaluate(model: Model | Sequence[Model] | None = None, protocol: str = "toy", *, limit: int | None = None,
             data: Mapping[str, str | os.PathLike] | None = None, revision: str | None = None,
             name: str | None = None, steps: int | None = None, guidance: float | None = None,
             scheduler: str | None = None, resolution: int | None = None, eta: float | None = None,
             dtype: str | None = None, batch_size: int = 96, results_dir: str | os.PathLike = "results",
             leaderboard_dir: str | os.PathLike | None = "leaderboards", force: bool = False, progress: bool = True,
             save_images: bool = False, grid: bool = False, allow_pickle: bool = False) -> Evaluation:
    """Evaluate `model` under `protocol` and return its results; a run that fails raises `EvaluationFailed`.

    `model` is one of, or a list of:
      - a `diffusers.DiffusionPipeline` object, sampled as it is (its device, its dtype, its scheduler and call
        defaults); it is saved to `results_dir/in-memory/` for the run so its record holds the sha256 of every file;
      - a local pipeline folder (`Path` or text), or a hub id 'ORG/NAME' (`revision`: a branch, tag or commit);
      - a generator name as `ddmd-bench evaluate --model` takes it ('teacher:steps=4,guidance=3',
        'method:dmd2-sdxl-4step', 'pipeline:PATH');
      - any object with the Generator contract (`ddmd_bench.generators.base.Generator`);
      - None: the default suite (every shipped toy model).

    The other arguments are `ddmd-bench evaluate`'s options: `limit` (the first N prompts; its own protocol and
    leaderboard file), `data` (the protocol's data files by key), the recipe overrides `steps`, `guidance`,
    `scheduler`, `resolution`, `eta` and `dtype` (diffusers models loaded from disk), `name` (the result's name, for
    one model other than a shipped one), `leaderboard_dir=None` to write result records only, `force` to recompute a
    finished result.
    """
    models = list(model) if isinstance(model, (list, tuple)) else ([] if model is None else [model])
    if name is not None and len(models) != 1:
        raise ValueError(f"name={name!r} names the result of one model; {len(models)} are given")
    overrides = Overrides(steps, guidance, scheduler, resolution, eta)
    world = World.current()
    results = Path(results_dir)
    with contextlib.ExitStack() as stack:
        names, generators = [], []
        for i, item in enumerate(models):
            if _is_pipeline(item):
                generators.append(_in_memory(item, results / IN_MEMORY_DIR / str(i), overrides, name, world, stack))
            elif isinstance(item, Generator):
                generators.append(item)
            else:
                names.append(generator_name(item, revision))
        request = suite.EvaluationRequest(
            protocol=protocol, models=tuple(names), limit=limit,
            data={k: Path(v) for k, v in (data or {}).items()}, results_dir=results,
            leaderboard_dir=None if leaderboard_dir is None else Path(leaderboard_dir), force=force,
            generator_options=GeneratorOptions(overrides, RunSettings(dtype=dtype, allow_pickle=allow_pickle),
                                               None if generators else name),
            run=suite.RunOptions(batch_size, progress, save_images, grid), generators=tuple(generators))
        outcome = suite.evaluate_suite(request)
    evaluation = Evaluation(outcome.protocol, tuple(outcome.records), tuple(outcome.reused), tuple(outcome.failed),
                            outcome.leaderboard, outcome.added, tuple(outcome.reproduced), outcome)
    if evaluation.failed:
        raise EvaluationFailed(evaluation)
    return evaluation


def generator_name(model: str | os.PathLike, revision: str | None = None) -> str:
    """The generator name `ddmd-bench evaluate` resolves for a folder, a hub id or a name it already takes."""
    text = os.fspath(model)
    kind, sep, _ = text.partition(":")
    if sep and kind in KINDS:
        named = text
    elif Path(text).is_dir():
        named = f"pipeline:{Path(text).resolve()}"
    elif HUB_ID.fullmatch(text):
        named = f"pipeline:{text}"
    else:
        named = text  # a shipped model's suite name or spec
    if revision is not None:
        if not HUB_ID.fullmatch(text):
            raise ValueError(f"revision={revision!r} applies to a hub id (ORG/NAME), not to {text!r}")
        named += f"@{revision}"
    return named


def _is_pipeline(model: Any) -> bool:
    # a pipeline object can exist only once diffusers is imported: asking does not import it
    return "diffusers" in sys.modules and isinstance(model, sys.modules["diffusers"].DiffusionPipeline)


def _in_memory(pipe, folder: Path, overrides: Overrides, name: str | None, world: World,
               stack: contextlib.ExitStack) -> Generator:
    # diffusers: only for a pipeline object, which means the caller has imported it already
    from ddmd_bench.api.in_memory import InMemoryPipeline, save_for_evaluation

    stack.callback(_remove_saved, folder, world)
    generator = InMemoryPipeline(pipe, save_for_evaluation(pipe, folder, world), overrides, name)
    stack.callback(generator.close)
    return generator


def _remove_saved(folder: Path, world: World) -> None:
    world.barrier()  # every rank is done with the saved copy
    if world.is_main:
        shutil.rmtree(folder, ignore_errors=True)
