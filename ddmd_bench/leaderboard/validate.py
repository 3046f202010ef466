"""`ddmd-bench leaderboard validate`: every problem of every leaderboard file and reproductions sidecar."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ddmd_bench.leaderboard import store


@dataclass(frozen=True, slots=True)
class FileReport:
    """One checked file: how many entries (or reproductions) are valid, and its problems."""

    path: Path
    kind: str  # "leaderboard" | "reproductions"
    valid: int
    problems: list[store.Problem]


@dataclass(frozen=True, slots=True)
class Report:
    """Every checked file."""

    files: list[FileReport] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)  # folders without any leaderboard file

    @property
    def problems(self) -> list[store.Problem]:
        """Every problem found, file by file, in line order; an empty folder counts as one."""
        return [p for f in self.files for p in f.problems] + \
            [store.Problem(d, None, "no leaderboard files (*.jsonl) in this folder") for d in self.missing]

    def lines(self) -> list[str]:
        """One 'ok' line per valid file, one 'FILE:LINE: WHAT' line per problem."""
        out = []
        for f in self.files:
            noun = "entries" if f.kind == "leaderboard" else "reproductions"
            if f.problems:
                out += [f"INVALID {p}" for p in f.problems]
            else:
                out.append(f"ok      {f.path} ({f.valid} {noun})")
        out += [f"INVALID {d}: no leaderboard files (*.jsonl) in this folder" for d in self.missing]
        return out

    def summary(self) -> str:
        """A one-line count of the problems."""
        bad = len({p.path for p in self.problems})
        return f"{len(self.problems)} problem(s) in {bad} file(s); fix or remove the lines named above"


def files_under(paths: list[Path] | tuple[Path, ...]) -> tuple[list[Path], list[Path]]:
    """(JSON Lines files, folders holding none): a folder stands for every *.jsonl file in it."""
    files, empty = [], []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            files += found
            if not found:
                empty.append(p)
        else:
            files.append(p)
    return files, empty


def validate_file(path: Path) -> FileReport:
    """Check one file: a reproductions sidecar against its leaderboard, anything else as a leaderboard."""
    if store.is_reproductions_file(path):
        leaderboard = store.leaderboard_of(path)
        entries = store.scan(leaderboard).entries if leaderboard.exists() else None
        found, problems = store.read_reproductions(leaderboard, entries)
        if entries is None:
            problems = [store.Problem(path, None, f"its leaderboard {leaderboard.name} does not exist"), *problems]
        return FileReport(path, "reproductions", len(found), problems)
    scanned = store.scan(path)
    return FileReport(path, "leaderboard", len(scanned.entries), scanned.problems)


def validate_paths(paths: list[Path] | tuple[Path, ...]) -> Report:
    """Check every file named or found in a named folder; never stops at the first bad one."""
    files, empty = files_under(paths)
    return Report([validate_file(f) for f in files], empty)
