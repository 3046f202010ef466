"""A small typed registry with did-you-mean errors (the unit of extension for schedulers, models, protocols).

An entry is either an object or a lazy reference `"package.module:attribute"`, imported on its first `get` and
cached. Catalogues that plug in a track's objects use lazy entries: listing names imports nothing, and a low layer
never imports the track it names.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists close matches and all choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class LazyEntry:
    """An entry not imported yet: `module:attribute`."""

    module: str
    attribute: str

    @classmethod
    def parse(cls, target: str) -> LazyEntry:
        """'package.module:attribute' -> LazyEntry (anything else is a programming error)."""
        module, sep, attribute = target.partition(":")
        if not sep or not module or not attribute.isidentifier():
            raise ValueError(f"lazy registry entry {target!r} is not of the form 'package.module:attribute'")
        return cls(module, attribute)

    def load(self) -> object:
        """Import the module and return the attribute."""
        module = importlib.import_module(self.module)
        try:
            return getattr(module, self.attribute)
        except AttributeError:
            raise ImportError(f"lazy registry entry {self.module}:{self.attribute}: module {self.module} has no "
                              f"attribute {self.attribute!r}") from None


class Registry(Generic[T]):
    """Maps names to objects; `get` fails with the closest registered names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | LazyEntry] = {}

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

    def add_lazy(self, name: str, target: str) -> None:
        """Register `name` as `target` ('package.module:attribute'), imported on the first `get` of `name`."""
        self.add(name, LazyEntry.parse(target))  # type: ignore[arg-type]  # resolved to a T by `get`

    def get(self, name: str) -> T:
        """The entry for `name`, or an `UnknownNameError` with did-you-mean suggestions."""
        if name not in self._entries:
            raise UnknownNameError(unknown_name_message(self.kind, name, list(self._entries)))
        obj = self._entries[name]
        if isinstance(obj, LazyEntry):
            obj = self._entries[name] = obj.load()  # type: ignore[assignment]
        return obj  # type: ignore[return-value]

    def is_loaded(self, name: str) -> bool:
        """Whether `name`'s object exists already (False for a lazy entry not fetched yet)."""
        return name in self._entries and not isinstance(self._entries[name], LazyEntry)

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
