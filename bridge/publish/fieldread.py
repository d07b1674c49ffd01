"""Reading catalogue fields, and the one place that knows whether they moved.

Every output reads the same catalogue fields from the same read-only view: the MQTT engine, Home Assistant's
rate-limited states, the Prometheus snapshot, the LED outputs and the demo's screen. Each one has its own
`FieldReader` (what one consumer has seen is not what another has), which

- gives a field its subject (a car, the player's car, or the context of session, bridge status and lights),
  reads and renders it;
- remembers the last value per key (a topic, an entity) and says whether a new one differs (`changed`), so an
  output sends only what moved;
- compares whole per-car columns (`moved`): a field whose `source` names the raw per-car value behind it is a
  function of that value, so when the game's column of it is unchanged (one C-level tuple compare) no car needs
  reading, and otherwise only the cars whose raw value moved.

Memory is bounded by the consumer's keys (topics, entities, fields), which the catalogue bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from bridge.publish.catalog import Field

MISSING = object()  # nothing remembered for a key


class Context:
    """What catalogue reads of the session, game, bridge and lights scopes see: the read-only state, the bridge
    status and the lights."""

    __slots__ = ("lights", "state", "status")

    def __init__(self, state: Any, status: Any, lights: Any) -> None:
        self.state = state
        self.status = status
        self.lights = lights


class FieldReader:
    """One consumer's reads of catalogue fields, with its memory of what it last saw."""

    __slots__ = ("_columns", "_last", "context", "view")

    def __init__(self, view: Any, context: Context | None = None) -> None:
        self.view = view
        self.context = context if context is not None else Context(view, None, None)
        self._last: dict[Hashable, Any] = {}  # key -> the value last accepted by `changed`
        self._columns: dict[Hashable, tuple[Any, tuple[Any, ...]]] = {}  # key -> (token, column) last compared

    # ------------------------------------------------------------------------------------------ reading

    def subject(self, f: Field, car: int | None = None) -> Any:
        """What `f` reads from: car `car`, the player's car (None while spectating), or the context."""
        scope = f.scope
        if scope == "car":
            return self.view.car(car)
        if scope == "player":
            return self.view.player
        return self.context

    def read(self, f: Field, car: int | None = None) -> Any:
        """The value of `f` (for car `car`); None when unknown or when there is no subject (no player car)."""
        subject = self.subject(f, car)
        return None if subject is None else f.read(subject)

    def render(self, f: Field, car: int | None = None) -> str | None:
        """The payload of `f` now (None: unknown)."""
        return f.render(self.read(f, car))

    # ------------------------------------------------------------------------------------------ change detection

    def changed(self, key: Hashable, value: Any) -> bool:
        """Whether `value` differs from the one last accepted for `key`; a differing one is remembered."""
        last = self._last
        if last.get(key, MISSING) == value:
            return False
        last[key] = value
        return True

    def last(self, key: Hashable) -> Any:
        """The value last accepted for `key` (MISSING: none)."""
        return self._last.get(key, MISSING)

    def forget(self, keep: Callable[[Hashable], bool] | None = None) -> None:
        """Forget every key (or those `keep` says no to): their next value counts as changed."""
        if keep is None:
            self._last.clear()
            self._columns.clear()
            return
        for key in [k for k in self._last if not keep(k)]:
            del self._last[key]

    def discard(self, key: Hashable) -> None:
        """Forget `key`: its next value counts as changed."""
        self._last.pop(key, None)

    def forget_columns(self) -> None:
        """Every column compare starts over (a new session: slots may differ)."""
        self._columns.clear()

    def moved(self, key: Hashable, source: str | None, cars: Iterable[int]) -> Iterable[int]:
        """The cars among `cars` whose raw value of `source` changed since `key` was last compared: `()` when the
        whole column is unchanged, `cars` itself when nothing can be compared (no column, first read, another
        record layout or slot count)."""
        found = self.view.column(source) if source is not None else None
        if found is None:
            return cars
        previous = self._columns.get(key)
        self._columns[key] = found
        if previous is None or previous[0] is not found[0]:
            return cars
        before, column = previous[1], found[1]
        if before == column:
            return ()
        if len(before) != len(column):
            return cars
        return [i for i in cars if column[i] != before[i]]


__all__ = ["MISSING", "Context", "FieldReader"]
