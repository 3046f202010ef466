"""Prompt sets: named, versioned lists of prompts whose identity is the sha256 of their canonical text.

Loaders read each public format exactly: prompts are kept verbatim (PartiPrompts has prompts with leading or
trailing spaces, and they are hashed as published), and every malformed input is an error naming the file, the line
and the problem. A UTF-8 byte-order mark is not text and is dropped; a JSON object with a repeated key is an error
(a JSON parser would keep the last value and silently lose prompts). The one exception to verbatim is COCO captions:
some end in a newline or a space, so the COCO loader strips each caption and records that it did in the set's
`normalization` (part of its identity). The canonical text of a set is its prompts joined by newlines with a
trailing newline, UTF-8; its sha256 identifies the set in protocols and results.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddmd_bench.registry import Registry


class PromptFileError(ValueError):
    """A prompt file is malformed; the message names the file, the line and the problem."""


class EmptyPromptSet(PromptFileError):
    """A prompt set has no prompts: nothing to generate, and FID or a mean over zero samples is undefined."""


class DuplicatePromptId(PromptFileError):
    """Two prompts share an id, so per-sample records (scores, resume chunks, selections) would be ambiguous."""


@dataclass(frozen=True, slots=True)
class PromptSet:
    """An ordered, immutable list of prompts with a name, a version and optional per-prompt metadata."""

    name: str
    version: int
    prompts: tuple[str, ...]
    meta: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    normalization: str = ""  # how the loader changed the file's text, e.g. COCO's stripped captions ("": verbatim)

    @property
    def sha256(self) -> str:
        """Hash of the canonical text: prompts joined by newlines, with a trailing newline, UTF-8."""
        return canonical_sha256(self.prompts)

    def ref(self) -> dict:
        """What a protocol records about this set."""
        ref = {"name": self.name, "version": self.version, "n": len(self.prompts), "sha256": self.sha256}
        return {**ref, "normalization": self.normalization} if self.normalization else ref

    def head(self, n: int) -> PromptSet:
        """The first `n` prompts, as a derived set (its name says so, so it can never pass for the full set)."""
        if n >= len(self.prompts):
            return self
        return PromptSet(f"{self.name}[:{n}]", self.version, self.prompts[:n], self.meta[:n], self.normalization)


def canonical_sha256(prompts: tuple[str, ...] | list[str]) -> str:
    """sha256 of the canonical text of a prompt list."""
    for i, p in enumerate(prompts):
        if "\n" in p:
            raise PromptFileError(f"prompt {i} contains a newline; canonical text needs one prompt per line")
    return hashlib.sha256(("\n".join(prompts) + "\n").encode("utf-8")).hexdigest()


BOM = "\ufeff"


def _text(path: Path) -> str:
    """The file's text without a byte-order mark (an editor's marker, not part of prompt 1)."""
    try:
        text = path.read_bytes().decode("utf-8")  # no newline translation: a CR is reported, not hidden
    except UnicodeDecodeError as exc:
        raise PromptFileError(f"{path}: not UTF-8 text ({exc})") from exc
    return text.removeprefix(BOM)


def check_prompt_set(prompts: PromptSet, where: str | Path | None = None) -> PromptSet:
    """The checks every prompt set passes before anything is generated from it; returns it unchanged.

    An empty set, an empty or non-string prompt, metadata not aligned with the prompts, or a duplicate prompt id is
    an error naming `where` (the file, or the protocol) and the offending prompt.
    """
    label = str(where) if where is not None else f"prompt set {prompts.name!r}"
    if not prompts.prompts:
        raise EmptyPromptSet(f"{label}: the prompt set is empty (nothing to generate)")
    for i, p in enumerate(prompts.prompts):
        if not isinstance(p, str) or not p.strip():
            raise PromptFileError(f"{label}: prompt {i + 1} is empty or not a string ({p!r})")
        if "\n" in p:
            raise PromptFileError(f"{label}: prompt {i + 1} contains a line break ({p!r}); the canonical text has "
                                  f"one prompt per line, so remove the line break from the file")
    if prompts.meta and len(prompts.meta) != len(prompts.prompts):
        raise PromptFileError(f"{label}: {len(prompts.meta)} metadata rows for {len(prompts.prompts)} prompts")
    first: dict[Any, int] = {}
    for i, m in enumerate(prompts.meta):
        if "id" not in m:
            continue
        if m["id"] in first:
            raise DuplicatePromptId(f"{label}: duplicate prompt id {m['id']!r} (prompts {first[m['id']] + 1} and "
                                    f"{i + 1})")
        first[m["id"]] = i
    return prompts


def _build(path: Path, name: str, version: int, prompts: list[str], meta: list[dict[str, Any]],
           normalization: str = "") -> PromptSet:
    return check_prompt_set(PromptSet(name, version, tuple(prompts), tuple(meta), normalization), path)


FORMATS: Registry[Callable[..., PromptSet]] = Registry("prompt format")


@FORMATS.register("txt")
def read_text(path: str | Path, name: str, version: int = 1) -> PromptSet:
    """One prompt per line, verbatim; blank lines and carriage returns are errors."""
    path = Path(path)
    text = _text(path)
    text = text.removesuffix("\n")
    lines = text.split("\n") if text else []
    for lineno, line in enumerate(lines, start=1):
        if "\r" in line:
            raise PromptFileError(f"{path}:{lineno}: carriage return in line (convert the file to LF line endings)")
        if not line.strip():
            raise PromptFileError(f"{path}:{lineno}: empty prompt")
    return _build(path, name, version, lines, [])


@FORMATS.register("jsonl")
def read_jsonl(path: str | Path, name: str, version: int = 1, key: str = "prompt") -> PromptSet:
    """One JSON object per line with a string field `key` (and optionally a unique "id")."""
    path = Path(path)
    prompts, meta = [], []
    for lineno, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        obj = _json_line(path, lineno, line)
        if not isinstance(obj, dict) or not isinstance(obj.get(key), str):
            raise PromptFileError(f"{path}:{lineno}: expected an object with a string field {key!r}")
        prompts.append(obj[key])
        meta.append({k: v for k, v in obj.items() if k != key})
    return _build(path, name, version, prompts, meta)


def _json_line(path: Path, lineno: int, line: str) -> Any:
    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise PromptFileError(f"{path}:{lineno}: key {key!r} appears twice in one JSON object (a JSON "
                                      f"reader keeps only the last, losing the first); make every key unique")
            seen[key] = value
        return seen

    try:
        return json.loads(line, object_pairs_hook=unique_keys)
    except PromptFileError:
        raise
    except ValueError as exc:
        raise PromptFileError(f"{path}:{lineno}: invalid JSON ({exc})") from exc


def _csv_rows(path: Path, header: list[str], **reader_kwargs: Any) -> list[tuple[int, list[str]]]:
    rows = list(csv.reader(io.StringIO(_text(path), newline=""), **reader_kwargs))
    if not rows or rows[0] != header:
        raise PromptFileError(f"{path}:1: header {rows[0] if rows else None} is not {header}")
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise PromptFileError(f"{path}:{lineno}: {len(row)} fields, expected {len(header)} ({header})")
        out.append((lineno, row))
    return out


@FORMATS.register("partiprompts")
def read_partiprompts(path: str | Path, name: str = "partiprompts", version: int = 1) -> PromptSet:
    """PartiPrompts.tsv: read with QUOTE_NONE, since one prompt starts with a double quote (a CSV reader's
    default quoting would swallow the tab and merge fields)."""
    path = Path(path)
    rows = _csv_rows(path, ["Prompt", "Category", "Challenge", "Note"], delimiter="\t", quoting=csv.QUOTE_NONE)
    return _build(path, name, version, [r[0] for _, r in rows],
                  [{"category": r[1], "challenge": r[2], "note": r[3]} for _, r in rows])


@FORMATS.register("drawbench")
def read_drawbench(path: str | Path, name: str = "drawbench", version: int = 1) -> PromptSet:
    """DrawBench CSV: header `Prompts,Category`, standard CSV quoting."""
    path = Path(path)
    rows = _csv_rows(path, ["Prompts", "Category"])
    return _build(path, name, version, [r[0] for _, r in rows], [{"category": r[1]} for _, r in rows])


@FORMATS.register("hpsv2")
def read_hpsv2(path: str | Path, name: str = "hpsv2", version: int = 1) -> PromptSet:
    """HPSv2 benchmark: a JSON list of strings per style file (anime.json, photo.json, ...)."""
    path = Path(path)
    data = _json_line(path, 1, _text(path))
    if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
        raise PromptFileError(f"{path}: expected a JSON list of strings")
    return _build(path, name, version, data, [{"style": path.stem} for _ in data])


@FORMATS.register("geneval")
def read_geneval(path: str | Path, name: str = "geneval", version: int = 1) -> PromptSet:
    """GenEval evaluation_metadata.jsonl: {"tag", "include", ["exclude"], "prompt"} per line."""
    ps = read_jsonl(path, name, version)
    for i, m in enumerate(ps.meta, start=1):
        if "tag" not in m or not isinstance(m.get("include"), list):
            raise PromptFileError(f"{path}: entry {i} lacks GenEval's 'tag' or 'include' fields")
    return ps


@FORMATS.register("mjhq")
def read_mjhq(path: str | Path, name: str = "mjhq30k", version: int = 1) -> PromptSet:
    """MJHQ-30K meta_data.json: {image_id: {"prompt", "category"}}, in file order."""
    path = Path(path)
    data = _json_line(path, 1, _text(path))
    if not isinstance(data, dict):
        raise PromptFileError(f"{path}: expected a JSON object {{image_id: {{prompt, category}}}}")
    prompts, meta = [], []
    for image_id, item in data.items():
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise PromptFileError(f"{path}: entry {image_id!r} has no string 'prompt'")
        prompts.append(item["prompt"])
        meta.append({"id": image_id, "category": item.get("category")})
    return _build(path, name, version, prompts, meta)


@FORMATS.register("coco")
def read_coco_captions(path: str | Path, name: str = "coco", version: int = 1, n: int | None = None,
                       seed: int = 0) -> PromptSet:
    """COCO captions JSON: one caption per image, chosen at random (seeded), for n images sampled (seeded).

    The chosen (image id, annotation id) list is kept in `meta`, so a result can record exactly which captions.
    Each caption is stripped of leading and trailing whitespace (COCO has captions ending in a newline or a space);
    the set's `normalization` says so when that changed any caption, so its sha256 is of the stripped text.
    """
    path = Path(path)
    data = _json_line(path, 1, _text(path))
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise PromptFileError(f"{path}: not a COCO captions file (needs 'images' and 'annotations')")
    by_image: dict[int, list[dict]] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    images = sorted(img["id"] for img in data["images"] if img["id"] in by_image)
    rng = np.random.default_rng(seed)
    if n is not None:
        if n > len(images):
            raise PromptFileError(f"{path}: asked for {n} captions but only {len(images)} images have captions")
        images = sorted(rng.choice(images, size=n, replace=False).tolist())
    chosen = [sorted(by_image[i], key=lambda a: a["id"])[rng.integers(len(by_image[i]))] for i in images]
    for a in chosen:
        if not isinstance(a.get("caption"), str):
            raise PromptFileError(f"{path}: annotation {a.get('id')!r} has no string 'caption'")
    captions = [a["caption"].strip() for a in chosen]
    changed = sum(c != a["caption"] for c, a in zip(captions, chosen))
    return _build(path, name, version, captions,
                  [{"image_id": a["image_id"], "annotation_id": a["id"], "id": a["id"]} for a in chosen],
                  COCO_NORMALIZATION if changed else "")


# What the COCO loader does to captions (recorded in the prompt set's identity when it changed any).
COCO_NORMALIZATION = "str.strip() of each caption (leading and trailing whitespace removed)"


MLPERF_COCO_HEADER = ["id", "image_id", "caption", "height", "width", "file_name", "coco_url"]


@FORMATS.register("mlperf-coco")
def read_mlperf_coco(path: str | Path, name: str = "mlperf-coco2014-5k", version: int = 1) -> PromptSet:
    """MLPerf Inference SDXL's captions TSV (coco2014/captions/captions_source.tsv): one COCO-2014 val caption per
    image. Read with QUOTE_NONE and kept verbatim (some captions hold double spaces); the annotation id is the
    prompt id, so the (image, caption) list is recorded exactly."""
    path = Path(path)
    rows = _csv_rows(path, MLPERF_COCO_HEADER, delimiter="\t", quoting=csv.QUOTE_NONE)
    meta = []
    for lineno, r in rows:
        if not (r[0].isdigit() and r[1].isdigit()):
            raise PromptFileError(f"{path}:{lineno}: id and image_id must be integers, got {r[0]!r}, {r[1]!r}")
        meta.append({"id": int(r[0]), "image_id": int(r[1]), "file_name": r[5]})
    return _build(path, name, version, [r[2] for _, r in rows], meta)


SUFFIX_FORMATS = {".txt": "txt", ".jsonl": "jsonl", ".tsv": "partiprompts", ".csv": "drawbench"}


def load(path: str | Path, fmt: str | None = None, name: str | None = None, version: int = 1,
         **options: Any) -> PromptSet:
    """Load a prompt file in a named format (guessed from the suffix when not given)."""
    path = Path(path)
    fmt = file_format(path, fmt)
    return FORMATS.get(fmt)(path, name=name or path.stem, version=version, **options)


def file_format(path: Path, fmt: str | None = None) -> str:
    """The format of an existing prompt file: `fmt` when given (it must be a known one), else guessed from the
    suffix."""
    if not path.is_file():
        raise PromptFileError(f"{path}: no such prompt file")
    fmt = fmt or SUFFIX_FORMATS.get(path.suffix)
    if fmt is None:
        raise PromptFileError(f"{path}: cannot guess the format from {path.suffix!r}; give it (--format), one of "
                              f"{', '.join(FORMATS.names())}")
    FORMATS.get(fmt)  # an unknown format fails here, with the known ones
    return fmt
