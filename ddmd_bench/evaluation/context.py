"""What a track's evaluation context gives the runner besides the protocol itself.

A protocol factory (`ddmd_bench.protocols.get_protocol`) returns `(Protocol, context)`. Every context provides the
prompts and builds the protocol's metrics (`EvalContext`); a context may also declare the capabilities below, which
the runner asks for with `isinstance` against their protocols. A protocol's quality gate is part of the protocol
itself (`Protocol.quality_gate`), so the ranges a record is checked against are the ones its fingerprint covers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ddmd_bench.metrics.base import Metric
    from ddmd_bench.prompts import PromptSet
    from ddmd_bench.protocol import Protocol as EvalProtocol


@runtime_checkable
class EvalContext(Protocol):
    """The prompts to generate (already selected, in order) and fresh metric objects for a run."""

    @property
    def prompt_set(self) -> PromptSet:
        """The prompts, exactly the set the protocol records (name, n, sha256)."""

    def build_metrics(self, protocol: EvalProtocol) -> dict[str, Metric]:
        """Fresh metric objects named as in `protocol.metrics` (the first place a run loads weights)."""


@runtime_checkable
class ResizesGenerated(Protocol):
    """A context whose metrics take images at one fixed size: any generator's output is brought to the protocol's
    resolution before scoring (the toy track). Without it, images must come out at that resolution."""

    @property
    def resize_generated(self) -> bool:
        """Whether generated images are resized to the protocol's resolution."""


@runtime_checkable
class RecordsDataFiles(Protocol):
    """A context that reads the user's data files (captions, reference statistics), recorded with each result."""

    def data_record(self) -> dict[str, dict[str, str]]:
        """key -> {path, sha256, whether a known hash was verified}."""


def resizes(context: EvalContext) -> bool:
    """Whether a run under `context` resizes generated images (False unless the context says so)."""
    return isinstance(context, ResizesGenerated) and bool(context.resize_generated)
