"""Whether a leaderboard entry is a teacher (the multi-step model distilled from) or a distilled student.

A record says so in the shape of its generator identity, and each shape has its own reader: a toy generator names
the shipped model it samples (the toy teacher is the model named `teacher`; ablation snapshots are students), a
diffusers recipe carries student weights or not. A published number records only a name and its steps, so its role
is unknown rather than guessed from the name.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from ddmd_bench.registry import Registry


class Role(str, enum.Enum):
    """What a generator is in a distillation comparison (a str so that rows stay plain JSON)."""

    TEACHER = "teacher"
    STUDENT = "student"
    UNKNOWN = "unknown"


TOY_TEACHER_MODEL = "teacher"  # the shipped toy model every toy student is distilled from

# Readers of one generator-record shape, keyed by the shape's name (see `shape`).
READERS: Registry[Callable[[Mapping[str, Any]], Role]] = Registry("generator record shape")


@READERS.register("toy")
def _toy(generator: Mapping[str, Any]) -> Role:
    return Role.TEACHER if generator.get("model") == TOY_TEACHER_MODEL else Role.STUDENT


@READERS.register("diffusers-recipe")
def _recipe(generator: Mapping[str, Any]) -> Role:
    # a recipe without student weights samples its base model as published: the teacher
    return Role.STUDENT if (generator.get("recipe") or {}).get("student") else Role.TEACHER


@READERS.register("unknown")
def _unknown(generator: Mapping[str, Any]) -> Role:
    return Role.UNKNOWN


def shape(generator: Mapping[str, Any]) -> str:
    """The name of a generator record's shape: its `kind` where it records one, else its track, else unknown."""
    for key in ("kind", "track"):
        value = generator.get(key)
        if isinstance(value, str) and value in READERS:
            return value
    return "unknown"


def role_of(record: Mapping[str, Any]) -> Role:
    """The role of the generator a result record describes."""
    generator = record.get("generator") or {}
    return READERS.get(shape(generator))(generator)
