"""Read-only views of the session state for readers (MQTT, metrics, Home Assistant, LEDs).

Readers never mutate state. Handing them `readonly(state)` instead of the state itself makes that a property of
the code, not a convention: attribute and item assignment, deletion and the mutating methods of containers all
raise `ReadOnlyError`, and everything reached through a view is itself read-only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

_IMMUTABLE = (int, float, str, bytes, bool, type(None), frozenset, range)


class ReadOnlyError(AttributeError):
    """A reader tried to change the state."""


def readonly(value: Any) -> Any:
    """`value` itself when immutable; otherwise a read-only view of it."""
    if isinstance(value, _IMMUTABLE) or getattr(type(value), "__dataclass_params__", None) is not None and type(
        value
    ).__dataclass_params__.frozen:
        return value
    if type(value) is tuple:
        return tuple(readonly(v) for v in value)
    if isinstance(value, (list, deque)):
        return ReadOnlySequence(value)
    if isinstance(value, (dict, MappingProxyType)):
        return ReadOnlyMapping(value)
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, (ReadOnlyView, ReadOnlySequence, ReadOnlyMapping)):
        return value
    return ReadOnlyView(value)


class _Guard:
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise ReadOnlyError(f"readers cannot set {name!r}: state is written only by process_* functions")

    def __delattr__(self, name: str) -> None:
        raise ReadOnlyError(f"readers cannot delete {name!r}")

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ReadOnlyError("readers cannot assign items of the state")

    def __delitem__(self, key: Any) -> None:
        raise ReadOnlyError("readers cannot delete items of the state")


class ReadOnlyView(_Guard):
    """Attribute access to an object; values come back read-only, methods return read-only results."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        value = getattr(object.__getattribute__(self, "_target"), name)
        if callable(value) and getattr(value, "__self__", None) is object.__getattribute__(self, "_target"):
            return lambda *args, **kwargs: readonly(value(*args, **kwargs))
        return readonly(value)

    def __repr__(self) -> str:
        return f"readonly({object.__getattribute__(self, '_target')!r})"


class ReadOnlySequence(_Guard):
    __slots__ = ("_items",)

    def __init__(self, items: list | deque) -> None:
        object.__setattr__(self, "_items", items)

    def __getitem__(self, index: int | slice) -> Any:
        items = object.__getattribute__(self, "_items")
        if isinstance(index, slice):
            return tuple(readonly(v) for v in list(items)[index])
        return readonly(items[index])

    def __len__(self) -> int:
        return len(object.__getattribute__(self, "_items"))

    def __iter__(self) -> Iterator[Any]:
        return (readonly(v) for v in object.__getattribute__(self, "_items"))

    def __repr__(self) -> str:
        return f"readonly({object.__getattribute__(self, '_items')!r})"


class ReadOnlyMapping(_Guard, Mapping):
    __slots__ = ("_mapping",)

    def __init__(self, mapping: Mapping) -> None:
        object.__setattr__(self, "_mapping", mapping)

    def __getitem__(self, key: Any) -> Any:
        return readonly(object.__getattribute__(self, "_mapping")[key])

    def __len__(self) -> int:
        return len(object.__getattribute__(self, "_mapping"))

    def __iter__(self) -> Iterator[Any]:
        return iter(object.__getattribute__(self, "_mapping"))

    def __repr__(self) -> str:
        return f"readonly({object.__getattribute__(self, '_mapping')!r})"
