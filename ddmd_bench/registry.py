"""A small typed registry with did-you-mean errors (the unit of extension for schedulers, models, protocols)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists close matches and all choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps names to objects; `get` fails with the closest registered names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering `obj` under `name` (a duplicate name is a programming error)."""

        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        """Register `obj` under `name`."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        """The entry for `name`, or an `UnknownNameError` with did-you-mean suggestions."""
        if name in self._entries:
            return self._entries[name]
        raise UnknownNameError(unknown_name_message(self.kind, name, list(self._entries)))

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)


def unknown_name_message(kind: str, name: str, choices: list[str]) -> str:
    """'unknown model 'techer'; did you mean 'teacher'? Choices: ...'"""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} Choices: {', '.join(choices)}"
