"""Training logs: JSON Lines always (trimmed on resume so no step appears twice), TensorBoard when installed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class RunLog:
    """Append-only per-step records; `resume_at(step)` drops records written after the last checkpoint."""

    def __init__(self, folder: Path, start_step: int, tensorboard: bool = True) -> None:
        self.path = folder / "log.jsonl"
        kept = []
        if self.path.exists():
            kept = [ln for ln in self.path.read_text().splitlines() if ln and json.loads(ln)["step"] <= start_step]
        self.path.write_text("".join(ln + "\n" for ln in kept))
        self._file = self.path.open("a")
        self._tb = _tensorboard(folder / "tb") if tensorboard else None

    def write(self, record: dict[str, Any]) -> None:
        """One step's record (must contain 'step')."""
        self._file.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, record["step"])

    def flush(self) -> None:
        """Make everything written so far durable (called at each checkpoint)."""
        self._file.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional backend, imported when a run logs to it
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(folder))


def read(folder: Path) -> list[dict[str, Any]]:
    """All records of a run folder."""
    path = Path(folder) / "log.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln] if path.exists() else []
