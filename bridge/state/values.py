"""The accessor mechanism: named game values, read on demand from the latest record of each kind.

State values that the game sends as-is (speed, position, tyre temperatures...) are not copied field by field into
the state: the game's writer keeps the latest decoded record of each kind in `state.latest`, and a value is read
out of that record's flat tuple when a reader asks. That keeps the writer's cost per datagram independent of the
number of fields, and readers pay only for what they read, at the rate they read it.

A game describes its values in a `ValueTable` and its writer installs that table in the state it writes
(`state.tables`). The names become properties of the state, the cars and their read-only views once the game
registers them (`register()`); a name the running game does not provide reads as None.

What the state needs of a game, and nothing more: a record has `.layout` (hashable, the same object for every
record of one shape) and `.values` (the flat tuple); `accessors.for_layout(layout)` gives `{name: read}` with
`read(values, index) -> value`; `columns(layout, name)` gives a function returning one per-car value for every
car slot in one call (or None).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

# Per-wheel values are tuples in this order, whatever the game: its writer or value table puts them so.
WHEELS = ("rl", "rr", "fl", "fr")

Accessor = Callable[[tuple[Any, ...], int], Any]  # (flat record values, car index) -> value
Column = Callable[[tuple[Any, ...]], tuple[Any, ...]]  # flat record values -> one value per car slot


class Accessors(Protocol):
    def for_layout(self, layout: Any) -> Mapping[str, Accessor]: ...


@dataclass(frozen=True)
class Value:
    """Where one named value lives: the kind of record it is read from (a key of `state.latest`) and how."""

    kind: Any
    accessors: Accessors
    player_only: bool = False  # sent for the player's car only: other cars read None


def _no_columns(layout: Any, name: str) -> Column | None:
    return None


ALWAYS = ("game/receiving", "game/source", "game/name", "bridge/*")  # the bridge's own topics: whatever game runs


@dataclass(frozen=True, eq=False)
class ValueTable:
    """One game's named values: per car (the player's car included) and for the session; and which catalogue
    fields the game provides (globs over topic paths; a field it does not provide is neither published, nor
    announced to Home Assistant, nor exported as a metric)."""

    game: str  # the registry key: f1, forza...
    model: str = "telemetry bridge"  # Home Assistant's device model
    car: Mapping[str, Value] = field(default_factory=dict)
    session: Mapping[str, Value] = field(default_factory=dict)
    columns: Callable[[Any, str], Column | None] = _no_columns
    fields: tuple[str, ...] = ("*",)

    def provides(self, path: str) -> bool:
        """Whether the game provides the catalogue field at `path` (`player/rpm`, `cars/{car}/lap`...)."""
        return _provides(self, path)

    def column(self, latest: Mapping[Any, Any], name: str) -> tuple[Any, tuple[Any, ...]] | None:
        """(the record's layout, every car slot's value of `name`) from the latest record, or None."""
        value = self.car.get(name)
        if value is None:
            return None
        record = latest.get(value.kind)
        if record is None:
            return None
        column_of = self.columns(record.layout, name)
        return None if column_of is None else (record.layout, column_of(record.values))


@lru_cache(maxsize=4096)  # (game, catalogue path): a few hundred paths per game
def _provides(table: ValueTable, path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in (*ALWAYS, *table.fields))


NO_VALUES = ValueTable(game="")  # no game yet: every game value reads None


def game_property(name: str, *, cars: bool, view: bool) -> property:
    """A property reading `name` through the running game's table, for a car (or the session: index 0).

    `view=True` for the read-only views, which are tuples `(state, index)`; otherwise the object has `_state`
    and `index` attributes (the writer's `CarState`) or is the state itself (session values).
    """

    def get(self: Any) -> Any:
        if view:
            state, index = self
        elif cars:
            state, index = self._state, self.index
        else:
            state, index = self, 0
        value = (state.tables.car if cars else state.tables.session).get(name)
        if value is None:
            return None
        if value.player_only:
            if index != state.player_index:
                return None  # the game sends these for the player's car only
            index = 0
        record = state.latest.get(value.kind)
        if record is None:
            return None
        accessor = value.accessors.for_layout(record.layout).get(name)
        return None if accessor is None else accessor(record.values, index)

    get.__name__ = name
    get.game_value = True  # type: ignore[attr-defined]
    return property(get)


GAMES: list[ValueTable] = []  # every game's table, in the order the games registered (one per game)
_CLASSES: list[tuple[type, bool, bool]] = []  # (class, cars, view): the classes game values become properties of
_NAMES: dict[bool, set[str]] = {True: set(), False: set()}  # cars -> names registered


def _add(cls: type, name: str, *, cars: bool, view: bool) -> None:
    existing = cls.__dict__.get(name)
    if existing is None:
        setattr(cls, name, game_property(name, cars=cars, view=view))
    elif not getattr(getattr(existing, "fget", None), "game_value", False):
        raise ValueError(f"game value {name!r} would hide {cls.__name__}.{name}")


def attach(cls: type, *, cars: bool, view: bool) -> None:
    """Make `cls` (a car or session container, or its view) show every game value registered, now and later."""
    _CLASSES.append((cls, cars, view))
    for name in _NAMES[cars]:
        _add(cls, name, cars=cars, view=view)


def register(table: ValueTable) -> ValueTable:
    """Make a game's value names properties of the attached classes (once per name, shared by every game)."""
    if any(known.game == table.game for known in GAMES):
        raise ValueError(f"game {table.game!r} is registered twice")
    GAMES.append(table)
    for cars, names in ((True, table.car), (False, table.session)):
        for name in names:
            if name in _NAMES[cars]:
                continue
            _NAMES[cars].add(name)
            for cls, cls_cars, view in _CLASSES:
                if cls_cars == cars:
                    _add(cls, name, cars=cars, view=view)
    return table
