"""Prompt sets: named, versioned lists of prompts whose identity is the sha256 of their canonical text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


class PromptFileError(ValueError):
    """A prompt file is malformed; the message names the file, the line and the problem."""


@dataclass(frozen=True, slots=True)
class PromptSet:
    """An ordered, immutable list of prompts with a name and version."""

    name: str
    version: int
    prompts: tuple[str, ...]

    @property
    def sha256(self) -> str:
        """Hash of the canonical text: prompts joined by newlines, with a trailing newline, UTF-8."""
        return canonical_sha256(self.prompts)

    def ref(self) -> dict:
        """What a protocol records about this set."""
        return {"name": self.name, "version": self.version, "n": len(self.prompts), "sha256": self.sha256}

    def head(self, n: int) -> PromptSet:
        """The first `n` prompts, as a derived set (its name says so, so it can never pass for the full set)."""
        if n >= len(self.prompts):
            return self
        return PromptSet(f"{self.name}[:{n}]", self.version, self.prompts[:n])


def canonical_sha256(prompts: tuple[str, ...] | list[str]) -> str:
    """sha256 of the canonical text of a prompt list."""
    return hashlib.sha256(("\n".join(prompts) + "\n").encode("utf-8")).hexdigest()


def read_text(path: str | Path, name: str, version: int) -> PromptSet:
    """One prompt per line, kept verbatim (no stripping); blank lines and carriage returns are errors."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")  # no newline translation: a CR is reported, not hidden
    except UnicodeDecodeError as exc:
        raise PromptFileError(f"{path}: not UTF-8 text ({exc})") from exc
    text = text[:-1] if text.endswith("\n") else text
    if not text:
        raise PromptFileError(f"{path}: the prompt set is empty")
    lines = text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        if "\r" in line:
            raise PromptFileError(f"{path}:{lineno}: carriage return in line (convert the file to LF line endings)")
        if not line.strip():
            raise PromptFileError(f"{path}:{lineno}: empty prompt")
    return PromptSet(name, version, tuple(lines))
