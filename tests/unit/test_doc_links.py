"""Every relative link in README.md, CONTRIBUTING.md and docs/ points to a file of the repository, and every
`#anchor` to a heading of that file."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ddmd_bench.report.readme import markdown_files

ROOT = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def links(text: str) -> list[str]:
    """Relative link targets of Markdown `text` (fenced code and external addresses left out)."""
    return [t for t in _LINK.findall(_FENCE.sub("", text)) if not re.match(r"[a-z]+:", t)]


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces to dashes."""
    heads = re.findall(r"^#+\s+(.*)$", _FENCE.sub("", text), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def broken(path: Path) -> list[str]:
    out = []
    for target in links(path.read_text(encoding="utf-8")):
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            out.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            out.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    return out


def test_every_relative_link_resolves():
    found = [b for p in markdown_files(ROOT) for b in broken(p)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("text, bad", [
    ("see [x](missing.md) and [y](README.md)", ["missing.md (no such file)"]),
    ("see [y](README.md#no-such-heading)", ["README.md#no-such-heading (no such heading)"]),
    ("```\n[x](missing.md)\n```\n[web](https://example.org/x)", []),
])
def test_a_broken_link_is_found(tmp_path, text, bad, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "README.md").write_text("# Title\n\n## Evaluate your checkpoint\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    assert [b.removeprefix("page.md: ") for b in broken(page)] == bad


def test_anchors_follow_github():
    assert anchors("# The toy leaderboard\n## Multi-GPU and multi-node\n## `image-reward`, parity\n") == {
        "the-toy-leaderboard", "multi-gpu-and-multi-node", "image-reward-parity"}
