"""The toy track's shipped models as generators: plain names resolve here, and its suite is `evaluate`'s default.

Registered in `ddmd_bench.generators.resolve.SHIPPED` (lazily, as 'ddmd_bench.tracks.toy.suite:SHIPPED').
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ddmd_bench.registry import unknown_name_message
from ddmd_bench.tracks.toy import shipped
from ddmd_bench.tracks.toy.generator_specs import ToyGeneratorSpec

if TYPE_CHECKING:
    from ddmd_bench.tracks.toy.generators import ToyGenerator

# The guidance scale shipped with the toy teacher (chosen from the sweep in docs/toy-world.md).
TOY_GUIDANCE = 3.0
# The teacher's step counts in the default suite: 25 flow-Euler steps is its reference, 4 and 1 match the students.
TOY_STEPS = (25, 4, 1)


def student_defaults(files: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each shipped student's own sampler: its step count on the DMD chain, no guidance."""
    return {k.removesuffix(".safetensors"): {"steps": len(v["student_sigmas"]), "scheduler": "flow-dmd",
                                             "guidance": 1.0}
            for k, v in files.items() if v.get("kind") == "student"}


def default_specs() -> list[ToyGeneratorSpec]:
    """The toy generators evaluated by default: the teacher at several step counts with and without CFG, then
    every shipped student with its own sampler."""
    teacher = [ToyGeneratorSpec("teacher", steps, guidance) for steps in TOY_STEPS for guidance in (TOY_GUIDANCE, 1.0)]
    students = [ToyGeneratorSpec(name, **opts)
                for name, opts in student_defaults(shipped.read_manifest()["files"]).items()]
    return teacher + students


class ToyModels:
    """The `ShippedModels` of the toy track."""

    def resolve(self, name: str) -> ToyGenerator:
        """A shipped toy model from its suite name or spec."""
        files = shipped.read_manifest()["files"]
        shipped_models = [k.removesuffix(".safetensors") for k, v in files.items()
                          if v.get("kind") in ("teacher", "student")]
        spec = ToyGeneratorSpec.parse(name, student_defaults(files))
        if spec.model not in shipped_models:
            raise ValueError(unknown_name_message("model", name, self.default_suite() + shipped_models))
        from ddmd_bench.tracks.toy.generators import ToyGenerator  # torch: listing the suite must not load it

        return ToyGenerator(spec)

    def default_suite(self) -> list[str]:
        """Suite names of `default_specs`."""
        return [spec.name for spec in default_specs()]

    def compiled(self, name: str) -> str:
        """The name with torch.compile on: '+compile' after a suite name, 'compile=1' among a spec's options."""
        if name.endswith("+compile") or "compile=" in name:
            return name
        if name.startswith("toy-") and "/" in name:
            return name + "+compile"
        return name + ("," if ":" in name else ":") + "compile=1"


SHIPPED = ToyModels()
