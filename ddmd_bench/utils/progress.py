"""Progress of long loops (generation, scoring, latency rounds, training, reference statistics) with an ETA, on
stderr, from rank 0 only.

On a terminal a `tqdm` bar; otherwise (a log file, a CI job, a pipe) one plain line at the first update, then
every `interval_s` seconds, then a last line when the loop ends, so a log shows where a run stands without the
carriage returns of a bar. `quieted()` silences every report inside a block (the command line's `--quiet`).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

# Seconds between two plain lines when stderr is not a terminal: often enough to follow a run in its log, rarely
# enough that a day-long training run writes a few thousand lines, not one per step.
DEFAULT_INTERVAL_S = 30.0

_QUIET = False


@contextlib.contextmanager
def quieted(on: bool = True) -> Iterator[None]:
    """Inside this block (when `on`), no progress report of this process is shown, however deep the loop that
    reports it; the setting before it returns afterwards."""
    global _QUIET
    before, _QUIET = _QUIET, _QUIET or on
    try:
        yield
    finally:
        _QUIET = before


def is_main_process() -> bool:
    """Rank 0 of a torch.distributed job, or a single process (torch is not imported for this)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def eta_seconds(done: float, total: float, elapsed: float) -> float | None:
    """Seconds left at the mean rate so far: elapsed * (total - done) / done (None before any work is done)."""
    if done <= 0 or elapsed < 0:
        return None
    return max(0.0, elapsed * (total - done) / done)


def format_duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '2 h 07 min'; '?' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _format_value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Progress:
    """Work done out of `total` units, reported with rate and ETA (see the module docstring).

    `initial` units are already done (a resumed run); the ETA counts only the rate of the work done since.
    `update(n, **values)` adds `n` units and shows `values` (a loss, a step time) beside the count.
    """

    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0, enabled: bool = True,
                 interval_s: float = DEFAULT_INTERVAL_S, stream: TextIO | None = None) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.done = self._start = initial
        self.enabled = enabled and not _QUIET and is_main_process()
        self.interval_s = interval_s
        self._stream = stream or sys.stderr
        self._t0 = self._last = time.perf_counter()
        self._lines = 0
        self._values: dict[str, Any] = {}
        self._bar = self._make_bar() if self.enabled and self._stream.isatty() else None

    def _make_bar(self):
        from tqdm.auto import tqdm  # only on a terminal

        return tqdm(total=self.total, initial=self.done, desc=self.desc, unit=self.unit, file=self._stream,
                    leave=False, smoothing=0.1, dynamic_ncols=True)

    def update(self, n: int = 1, **values: Any) -> None:
        """`n` more units done; `values` are shown with the count until replaced."""
        self.done += n
        self._values.update(values)
        if not self.enabled:
            return
        if self._bar is not None:
            if values:
                self._bar.set_postfix({k: _format_value(v) for k, v in values.items()}, refresh=False)
            self._bar.update(n)
            return
        now = time.perf_counter()
        if self._lines == 0 or now - self._last >= self.interval_s:
            self._write(now)

    def line(self, now: float | None = None) -> str:
        """The plain report: '<desc>: 120/2000 step (6%) loss 0.1234, 3.2 step/s, elapsed 37 s, ETA 9 min 47 s'."""
        elapsed = (now or time.perf_counter()) - self._t0
        fresh = self.done - self._start
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        shown = "".join(f" {k} {_format_value(v)}" for k, v in self._values.items())
        rate = f", {fresh / elapsed:.3g} {self.unit}/s" if fresh > 0 and elapsed > 0 else ""
        eta = eta_seconds(fresh, self.total - self._start, elapsed)
        return (f"{self.desc}: {self.done}/{self.total} {self.unit}{pct}{shown}{rate}, elapsed "
                f"{format_duration(elapsed)}, ETA {format_duration(eta)}")

    def _write(self, now: float) -> None:
        self._stream.write(self.line(now) + "\n")
        self._stream.flush()
        self._last, self._lines = now, self._lines + 1

    def close(self) -> None:
        """End the report: the bar is removed; in plain mode a last line says how long the loop took."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.done > self._start or self._lines:
            elapsed = time.perf_counter() - self._t0
            self._stream.write(f"{self.desc}: {self.done}/{self.total} {self.unit} done in "
                               f"{format_duration(elapsed)}\n")
            self._stream.flush()
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

