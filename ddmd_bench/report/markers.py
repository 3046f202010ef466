"""Finding and rewriting `<!-- generated:NAME -->` ... `<!-- /generated:NAME -->` blocks in Markdown text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ddmd_bench.report.sources import ReportError

_MARKER = re.compile(r"^<!-- (/?)generated:([\w.-]+) -->[ \t]*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One generated block: its name and the line numbers (0-based) of its opening and closing markers."""

    name: str
    start: int
    end: int


def blocks(text: str, where: str) -> list[Block]:
    """Every generated block of `text`, in order; ReportError (naming `where`:line) on unbalanced or nested markers."""
    found: list[Block] = []
    open_: tuple[str, int] | None = None
    for i, line in enumerate(text.split("\n")):
        m = _MARKER.match(line)
        if not m:
            if "generated:" in line and line.lstrip().startswith("<!--"):
                raise ReportError(f"{where}:{i + 1}: malformed marker {line.strip()!r}; expected "
                                  "'<!-- generated:NAME -->' or '<!-- /generated:NAME -->' on a line of its own")
            continue
        closing, name = m[1] == "/", m[2]
        if not closing:
            if open_ is not None:
                raise ReportError(f"{where}:{i + 1}: block {name!r} opens inside block {open_[0]!r} "
                                  f"(opened at line {open_[1] + 1}); close that one first")
            open_ = (name, i)
        elif open_ is None or open_[0] != name:
            raise ReportError(f"{where}:{i + 1}: closing marker for {name!r} without a matching opening marker")
        else:
            found.append(Block(name, open_[1], i))
            open_ = None
    if open_ is not None:
        raise ReportError(f"{where}:{open_[1] + 1}: block {open_[0]!r} is never closed "
                          f"(add '<!-- /generated:{open_[0]} -->')")
    return found


def rewrite(text: str, where: str, build: Callable[[str], str]) -> str:
    """`text` with each block's content replaced by `build(name)` (stripped of surrounding blank lines)."""
    lines = text.split("\n")
    out: list[str] = []
    last = 0
    for block in blocks(text, where):
        out += lines[last:block.start + 1]
        try:
            content = build(block.name).strip("\n")
        except ReportError as exc:
            raise ReportError(f"{where}:{block.start + 1}: section {block.name!r}: {exc}") from None
        out += content.split("\n") if content else []
        last = block.end
    out += lines[last:]
    return "\n".join(out)
