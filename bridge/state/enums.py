"""The running game's enumerations as readers need them: payload slugs and readable names, by enumeration name.

A game registers the enumerations it has (`register`); readers ask by name (`slug("trackId", fmt, 12)`) and never
know which game answered. Names are unique across games. Readable names are read when first needed (`Names`),
so a table built at import time (the catalogue) does not need the games imported before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol


class GameEnums(Protocol):
    def slug(self, enum: str, packet_format: int, value: int) -> str: ...

    def names(self, enum: str) -> tuple[str, ...]: ...  # every readable name, in every format, first seen first


_BY_ENUM: dict[str, GameEnums] = {}

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    return _NON_WORD.sub("_", text.lower()).strip("_")


def register(enums: GameEnums, names: tuple[str, ...]) -> None:
    for name in names:
        owner = _BY_ENUM.setdefault(name, enums)
        if owner is not enums:
            raise ValueError(f"enumeration {name!r} is registered by two games")


def slug(enum: str, packet_format: int, value: int) -> str:
    """Lowercase payload name of `value`; `unknown_<value>` for a value (or an enumeration) nobody knows."""
    owner = _BY_ENUM.get(enum)
    return f"unknown_{value}" if owner is None else owner.slug(enum, packet_format, value)


def label(enum: str, packet_format: int, value: int) -> str:
    """Readable name of `value`, as the game names it; `unknown(<value>)` for a value nobody knows."""
    read = getattr(_BY_ENUM.get(enum), "label", None)
    return f"unknown({value})" if read is None else str(read(enum, packet_format, value))


def names(enum: str) -> tuple[str, ...]:
    owner = _BY_ENUM.get(enum)
    return () if owner is None else owner.names(enum)


@dataclass(frozen=True)
class Names:
    """The (payload, readable name) pairs of an enumeration, read when first iterated.

    `render` turns (payload, readable name) into the pair to show; it may raise for a name that needs one."""

    enum: str
    render: Callable[[str, str], tuple[str, str]] | None = None

    def _pairs(self) -> tuple[tuple[str, str], ...]:
        seen: dict[str, str] = {}
        for name in names(self.enum):
            key, readable = slugify(name), name
            if self.render is not None:
                key, readable = self.render(key, name)
            seen.setdefault(key, readable)
        return tuple(seen.items())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs())

    def __len__(self) -> int:
        return len(self._pairs())

    def __bool__(self) -> bool:
        return bool(self._pairs())


@dataclass(frozen=True)
class Slugs:
    """The payloads of an enumeration's `Names`, read when first iterated."""

    names: Names

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.names)

    def __len__(self) -> int:
        return len(self.names)
