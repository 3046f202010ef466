"""Regenerate (or check) every generated block of the project's Markdown from the committed data."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path

from ddmd_bench.registry import UnknownNameError
from ddmd_bench.report import markers
from ddmd_bench.report.registry import load_sections
from ddmd_bench.report.sources import ReportError, Sources

log = logging.getLogger(__name__)

DOC_FILES = ("README.md", "CONTRIBUTING.md")
DOC_DIRS = ("docs",)


@dataclass(frozen=True, slots=True)
class Change:
    """One Markdown file whose generated blocks differ from what the data gives."""

    path: Path
    old: str
    new: str

    def diff(self, root: Path) -> str:
        """Unified diff, old (file) -> new (data)."""
        name = str(self.path.relative_to(root))
        return "".join(difflib.unified_diff(self.old.splitlines(keepends=True), self.new.splitlines(keepends=True),
                                            f"{name} (committed)", f"{name} (from data)"))


def markdown_files(root: Path) -> list[Path]:
    """README.md, CONTRIBUTING.md and docs/**/*.md under `root` (those that exist)."""
    files = [root / f for f in DOC_FILES if (root / f).is_file()]
    for d in DOC_DIRS:
        files += sorted((root / d).rglob("*.md"))
    return files


def regenerate(root: Path, write: bool = True) -> list[Change]:
    """Rebuild every generated block under `root`; write changed files when `write`. Returns the changes."""
    root = Path(root).resolve()
    sections = load_sections()
    data = Sources(root)
    built: dict[str, str] = {}

    def build(name: str) -> str:
        if name not in built:
            try:
                built[name] = sections.get(name)(data)
            except UnknownNameError as exc:
                raise ReportError(str(exc)) from None
        return built[name]

    changes = []
    for path in markdown_files(root):
        old = path.read_text(encoding="utf-8")
        new = markers.rewrite(old, str(path), build)
        if new != old:
            changes.append(Change(path, old, new))
            if write:
                path.write_text(new, encoding="utf-8")
                log.info("rewrote %s", path)
    unused = set(sections.names()) - set(built)
    if unused:
        log.warning("registered sections not used in any Markdown file: %s", ", ".join(sorted(unused)))
    return changes
