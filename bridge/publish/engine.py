"""What to publish and when: change-only, deadbands, rate classes, and a latest-wins pending map.

The engine is a reader. After each packet the pipeline hands it the writer's changed groups; realtime and
on-change fields in those groups are read at once, the others when their rate class comes due. A value goes
into the pending map only when it differs from what the broker last accepted (beyond the field's deadband).
The pending map holds at most one message per topic, so a slow or absent broker makes us skip intermediate
values instead of queueing them: memory is bounded by the number of topics. A value counts as sent only when
the network side reports the publish succeeded (`sent()`); a failed one is put back unless a newer value
already replaced it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bridge.config import Settings
from bridge.publish.catalog import CATALOG, EVENT_TOPIC, Field
from bridge.publish.topics import join, segment
from bridge.state.view import readonly

IMMEDIATE = ("realtime", "on_change")
TIMED = ("fast", "normal", "slow")
MAX_EVENTS_QUEUED = 256
_CAR_GROUP = re.compile(r"cars\[(\d+)\]\.(\w+)")


@dataclass(slots=True)
class Message:
    topic: str
    payload: str
    qos: int
    retain: bool
    rate: str  # rate class (or "event", "status", "discovery", "clear")
    numeric: float | None = None
    expires: bool = False  # MQTT 5 message expiry applies (retained telemetry)
    origin_ns: int = 0  # monotonic receive time of the datagram behind a realtime value (latency histogram)


@dataclass(frozen=True, slots=True)
class _Bound:
    """A catalogue field bound to its full topic prefix; per-car fields keep a `{car}` placeholder."""

    field: Field
    relative: str
    deadband: float


class Context:
    """What catalogue reads see: the read-only state, the bridge status and the lights."""

    def __init__(self, state: Any, status: Any, lights: Any) -> None:
        self.state = state
        self.status = status
        self.lights = lights


class PublishEngine:
    def __init__(
        self,
        settings: Settings,
        state: Any,
        status: Any,
        lights: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
        catalog: Iterable[Field] = CATALOG,
    ) -> None:
        self.root = f"{settings.mqtt.base_topic}/{segment(settings.mqtt.rig)}"
        self._publish = settings.publish
        self._rates = {name: 1.0 / settings.publish.rates[name] for name in TIMED}
        self._clock = clock
        self._state = state  # the read-only view
        self.context = Context(state, status, lights)
        self._expiry = settings.publish.expiry_s > 0 and settings.mqtt.protocol == 5
        self._qos_fast = settings.publish.qos_fast
        self._fields = [self._bind(f) for f in catalog if self._wanted_scope(f)]
        # (rate class, group) -> bound fields, split by who they are read from.
        self._by_group: dict[tuple[str, str], list[_Bound]] = {}
        for b in self._fields:
            self._by_group.setdefault((b.field.rate, b.field.group), []).append(b)
        self._groups_of_class = {rate: {g for r, g in self._by_group if r == rate} for rate in TIMED}
        self._allowed: dict[str, bool] = {}
        self.pending: dict[str, Message] = {}  # latest wins: one message per topic
        self.pending_realtime: dict[str, Message] = {}
        self.events: deque[Message] = deque(maxlen=MAX_EVENTS_QUEUED)
        self._sent: dict[str, tuple[str, float | None]] = {}
        self._dirty: dict[str, set[str]] = {rate: set() for rate in TIMED}
        self._dirty_cars: dict[str, set[tuple[int, str]]] = {rate: set() for rate in TIMED}
        self._due = {rate: 0.0 for rate in TIMED}
        self._event_cursor = 0
        self.origin_ns = 0  # set by the pipeline before on_packet()
        self._published_cars: set[int] = set()
        self._car_views: list[Any] = []
        self._refresh_car_views()

    # ------------------------------------------------------------------------------------------ set-up

    def _wanted_scope(self, f: Field) -> bool:
        cars = self._publish.cars
        if f.scope == "car":
            return cars == "all"
        if f.scope == "player":
            return cars in ("all", "player")
        return True

    def _bind(self, f: Field) -> _Bound:
        deadband = f.deadband
        for pattern, value in self._publish.deadbands:
            if fnmatch.fnmatchcase(f.path.replace("{car}", "*"), pattern) or fnmatch.fnmatchcase(f.path, pattern):
                deadband = value
        return _Bound(f, f.path, deadband)

    def allowed(self, relative: str) -> bool:
        """include/exclude globs over the topic path relative to `<base>/<rig>/`."""
        verdict = self._allowed.get(relative)
        if verdict is None:
            include, exclude = self._publish.include, self._publish.exclude
            verdict = (not include or any(fnmatch.fnmatchcase(relative, p) for p in include)) and not any(
                fnmatch.fnmatchcase(relative, p) for p in exclude
            )
            self._allowed[relative] = verdict
        return verdict

    def _refresh_car_views(self) -> None:
        self._car_views = [readonly(car) for car in self._state.cars]

    # ------------------------------------------------------------------------------------------ reading

    def _offer(self, b: _Bound, subject: Any, car: int | None) -> None:
        f = b.field
        relative = f.path.format(car=car) if car is not None else f.path
        if not self.allowed(relative):
            return
        value = f.read(subject)
        payload = f.render(value)
        if payload is None:
            return
        topic = f"{self.root}/{relative}"
        target = self.pending_realtime if f.rate == "realtime" else self.pending
        numeric = f.numeric(value)
        last = self._sent.get(topic)
        if last is not None:
            last_payload, last_numeric = last
            if last_payload == payload or (
                b.deadband and numeric is not None and last_numeric is not None
                and abs(numeric - last_numeric) <= b.deadband
            ):
                target.pop(topic, None)  # back to what the broker has: nothing to send
                return
        qos = self._qos_fast if f.rate == "realtime" or f.rate == "fast" else max(f.qos, 0)
        target[topic] = Message(
            topic, payload, qos, f.retain, f.rate, numeric, f.retain and self._expiry, self.origin_ns
        )

    def _read(self, bound: list[_Bound], cars: Iterable[int] | None = None) -> None:
        ctx = self.context
        player = None
        for b in bound:
            scope = b.field.scope
            if scope == "car":
                views = self._car_views
                for i in (self._state.active if cars is None else cars):
                    if i < len(views):
                        self._offer(b, views[i], i)
            elif scope == "player":
                if player is None:
                    player = self._state.player
                    if player is None:
                        continue  # spectating: no player car
                if cars is None or player.index in cars:
                    self._offer(b, player, None)
            elif cars is None:
                self._offer(b, ctx, None)

    def on_packet(self, changed: set[str]) -> None:
        """Called after the writer processed a packet: read what must go out now, remember the rest."""
        if "session.reset" in changed:
            self._refresh_car_views()
        if "active" in changed or "session.reset" in changed:
            self._update_cars()
        for group in changed:
            m = _CAR_GROUP.fullmatch(group)
            if m is not None:
                car, name = int(m.group(1)), m.group(2)
                for rate in IMMEDIATE:
                    bound = self._by_group.get((rate, name))
                    if bound:
                        self._read(bound, (car,))
                for rate in TIMED:
                    if (rate, name) in self._by_group:
                        self._dirty_cars[rate].add((car, name))
                continue
            for rate in IMMEDIATE:
                bound = self._by_group.get((rate, group))
                if bound:
                    self._read(bound)
            for rate in TIMED:
                if group in self._groups_of_class[rate]:
                    self._dirty[rate].add(group)
        if "events" in changed:
            self._take_events()

    def mark(self, group: str) -> None:
        """Something outside the session state changed (bridge status, receiving flag)."""
        self.on_packet({group})

    def tick(self) -> None:
        """Read the fields of every rate class that is due, for the groups that changed since its last turn."""
        now = self._clock()
        for rate in TIMED:
            if now < self._due[rate]:
                continue
            self._due[rate] = now + self._rates[rate]
            groups, self._dirty[rate] = self._dirty[rate], set()
            for group in groups:
                self._read(self._by_group[(rate, group)])
            cars, self._dirty_cars[rate] = self._dirty_cars[rate], set()
            for car, name in cars:
                self._read(self._by_group[(rate, name)], (car,))

    def next_due(self) -> float:
        return min(self._due.values())

    def _update_cars(self) -> None:
        """Cars that left get their retained topics cleared (empty retained payload); new cars get everything."""
        active = set(self._state.active) if self._publish.cars == "all" else set()
        for car in self._published_cars - active:
            prefix = f"{self.root}/cars/{car}/"
            for topic in [t for t in self._sent if t.startswith(prefix)]:
                payload_was_retained = self._retained_topic(topic)
                self._sent.pop(topic)
                if payload_was_retained:
                    self.pending[topic] = Message(topic, "", 1, True, "clear")
            for target in (self.pending, self.pending_realtime):
                for topic in [t for t, m in target.items() if t.startswith(prefix) and m.rate != "clear"]:
                    del target[topic]
        added = active - self._published_cars
        self._published_cars = active
        if added:
            self._read([b for b in self._fields if b.field.scope == "car"], sorted(added))

    def _retained_topic(self, topic: str) -> bool:
        relative = topic[len(self.root) + 1 :]
        parts = relative.split("/")
        if len(parts) > 2 and parts[0] == "cars":
            relative = "/".join(["cars", "{car}", *parts[2:]])
        f = _FIELDS_BY_PATH.get(relative)
        return f is not None and f.retain

    def _take_events(self) -> None:
        for event in self._state.events:
            if event.seq <= self._event_cursor:
                continue
            self._event_cursor = event.seq
            relative = EVENT_TOPIC.format(code=segment(event.code))
            if not self.allowed(relative):
                continue
            payload = json.dumps(
                {"code": event.code, "session_time": round(event.session_time, 3), **dict(event.details)},
                separators=(",", ":"),
            )
            self.events.append(Message(join(self.root, relative), payload, 1, False, "event"))

    # ------------------------------------------------------------------------------------------ network side

    def snapshot(self) -> None:
        """After a (re)connect the broker may have lost everything: forget what it had and offer it all again."""
        self._sent.clear()
        self.pending.clear()
        self.pending_realtime.clear()
        self._published_cars = set()
        self._update_cars()
        self._read([b for b in self._fields if b.field.scope != "car"])

    def take(self, limit: int) -> list[Message]:
        """Up to `limit` pending messages, realtime first, then events, then the rest; taken out of the maps."""
        batch: list[Message] = []
        for source in (self.pending_realtime, self.events, self.pending):
            while source and len(batch) < limit:
                if isinstance(source, dict):
                    batch.append(source.pop(next(iter(source))))
                else:
                    batch.append(source.popleft())
        return batch

    def has_pending(self) -> bool:
        return bool(self.pending_realtime or self.pending or self.events)

    def pending_size(self) -> int:
        return len(self.pending_realtime) + len(self.pending) + len(self.events)

    def sent(self, message: Message) -> None:
        """The broker accepted `message`: it is now what subscribers have."""
        if message.rate == "event":
            return
        if message.rate == "clear":
            self._sent.pop(message.topic, None)
        else:
            self._sent[message.topic] = (message.payload, message.numeric)

    def failed(self, message: Message) -> None:
        """Not sent: keep it pending unless a newer value for the topic is already waiting."""
        if message.rate == "event":
            self.events.appendleft(message)
            return
        target = self.pending_realtime if message.rate == "realtime" else self.pending
        target.setdefault(message.topic, message)

    def offer_message(self, message: Message) -> None:
        """A message from another reader (Home Assistant discovery, WLED): latest wins per topic."""
        self.pending[message.topic] = message


_FIELDS_BY_PATH = {f.path: f for f in CATALOG}
