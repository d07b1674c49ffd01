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

import dataclasses
import fnmatch
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bridge.config import Settings
from bridge.jsontext import json_text
from bridge.publish.catalog import CATALOG, EVENT_TOPIC, Field
from bridge.publish.fieldread import Context, FieldReader
from bridge.publish.topics import join, segment
from bridge.state.changes import ACTIVE, EVENTS, RESET, Changes

IMMEDIATE = ("realtime",)  # read right after the packet that changed them
# Read when their turn comes. `on_change` fields (positions, laps, tyres...) are discrete: they are checked at the
# fast rate and sent as soon as they moved, so a packet at 60 Hz costs nothing for the ~50 of them per car.
TIMED = ("on_change", "fast", "normal", "slow")
MAX_EVENTS_QUEUED = 256
# include/exclude verdicts kept. The catalogue's topics number well under a thousand (24 cars at most), but event
# topics carry the game's 4-letter code, and any datagram may name a new one: the cache starts over when full.
MAX_CACHED_VERDICTS = 4096


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
    """A catalogue field with the deadband this configuration gives it, and its topics once known."""

    field: Field
    deadband: float
    # car index (None for a field without one) -> full topic, or None where include/exclude leave it out
    topics: dict[int | None, str | None] = dataclasses.field(default_factory=dict, compare=False)


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
        rates = settings.publish.rates
        self._rates = {"on_change": 1.0 / rates.fast, **{name: 1.0 / rates[name] for name in TIMED[1:]}}
        self._clock = clock
        self._state = state  # the read-only view
        self._reader = FieldReader(state, Context(state, status, lights))
        self.context = self._reader.context
        self._changed = self._reader.changed  # bound once: called for every field offered on the 60 Hz path
        self._expiry = settings.publish.expiry_s > 0 and settings.mqtt.protocol == 5
        self._qos_fast = settings.publish.qos_fast
        self._catalog = [f for f in catalog if self._wanted_scope(f)]
        self._bind_fields()
        self._allowed: dict[str, bool] = {}
        self.pending: dict[str, Message] = {}  # latest wins: one message per topic
        self.pending_realtime: dict[str, Message] = {}
        self.events: deque[Message] = deque(maxlen=MAX_EVENTS_QUEUED)
        self._sent: dict[str, tuple[str, float | None]] = {}  # what the broker confirmed, per topic
        self._inflight: dict[str, Message] = {}  # handed to the network, not yet confirmed
        self._dirty: dict[str, set[str]] = {rate: set() for rate in TIMED}
        self._dirty_cars: dict[str, set[tuple[int, str]]] = {rate: set() for rate in TIMED}
        self._due = {rate: 0.0 for rate in TIMED}
        self._event_cursor = 0
        self.origin_ns = 0  # set by the pipeline before on_packet()
        self._published_cars: set[int] = set()
        self._player_index = -1

    # ------------------------------------------------------------------------------------------ set-up

    def _wanted_scope(self, f: Field) -> bool:
        cars = self._publish.cars
        if f.scope == "car":
            return cars == "all"
        if f.scope == "player":
            return cars in ("all", "player")
        return True

    def _bind_fields(self) -> None:
        """Bind the catalogue fields the running game provides (all of them before a state is given)."""
        state = self._state
        self._game = None if state is None else state.game
        self._fields = [self._bind(f) for f in self._catalog if state is None or state.provides(f.path)]
        # (rate class, group) -> bound fields, split by who they are read from.
        self._by_group: dict[tuple[str, str], list[_Bound]] = {}
        for b in self._fields:
            self._by_group.setdefault((b.field.rate, b.field.group), []).append(b)
        self._plans: dict[str, tuple[list[_Bound], tuple[str, ...]]] = {}  # group -> _plan()

    def _bind(self, f: Field) -> _Bound:
        deadband = f.deadband
        for pattern, value in self._publish.deadbands:
            if fnmatch.fnmatchcase(f.path.replace("{car}", "*"), pattern) or fnmatch.fnmatchcase(f.path, pattern):
                deadband = value
        return _Bound(f, deadband)

    def allowed(self, relative: str) -> bool:
        """include/exclude globs over the topic path relative to `<base>/<rig>/`."""
        verdict = self._allowed.get(relative)
        if verdict is None:
            include, exclude = self._publish.include, self._publish.exclude
            verdict = (not include or any(fnmatch.fnmatchcase(relative, p) for p in include)) and not any(
                fnmatch.fnmatchcase(relative, p) for p in exclude
            )
            if len(self._allowed) >= MAX_CACHED_VERDICTS:
                self._allowed.clear()
            self._allowed[relative] = verdict
        return verdict

    # ------------------------------------------------------------------------------------------ reading

    def _topic(self, b: _Bound, car: int | None) -> str | None:
        relative = b.field.path.format(car=car) if car is not None else b.field.path
        topic = f"{self.root}/{relative}" if self.allowed(relative) else None
        b.topics[car] = topic
        return topic

    def _offer(self, b: _Bound, subject: Any, car: int | None) -> None:
        f = b.field
        topics = b.topics
        topic = topics[car] if car in topics else self._topic(b, car)
        if topic is None:
            return
        value = f.read(subject)
        if not self._changed(topic, value):
            return  # not moved since it was last offered: pending, sent, or within the deadband already
        payload = f.render(value)
        if payload is None:
            # Unknown again (a new session, a car without laps yet): what the broker retains is stale now.
            if f.retain and (topic in self._sent or topic in self._inflight):
                self.pending[topic] = Message(topic, "", f.qos, True, "clear")
            return
        target = self.pending_realtime if f.rate == "realtime" else self.pending
        numeric = f.numeric(value)
        inflight = self._inflight.get(topic)
        last = (inflight.payload, inflight.numeric) if inflight is not None else self._sent.get(topic)
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
        state = self._state
        player = None
        for b in bound:
            scope = b.field.scope
            if scope == "car":
                targets = state.active if cars is None else cars
                if cars is None and b.field.source is not None:
                    targets = self._reader.moved(b.field.path, b.field.source, targets)
                for i in targets:
                    self._offer(b, state.car(i), i)
            elif scope == "player":
                if player is None:
                    player = state.player
                    if player is None:
                        continue  # spectating: no player car
                if cars is None or player.index in cars:
                    self._offer(b, player, None)
            elif cars is None:
                self._offer(b, ctx, None)

    def on_packet(self, changed: Changes) -> None:
        """Called after the writer processed a packet: read what must go out now, remember the rest."""
        groups = changed.groups
        reset = RESET in groups
        if reset:
            if self._state.game != self._game:
                self._bind_fields()  # another game: its own fields
            # A new session may have another slot count (22 <-> 24 when the format changes): per-car work queued
            # for the old one may name slots that no longer exist. Every active car is read anew instead.
            self._reader.forget_columns()
            for dirty in self._dirty_cars.values():
                dirty.clear()
            self._update_cars(renew=True)
        elif ACTIVE in groups:
            self._update_cars()
        if reset:
            self._player_index = self._state.player_index
            self._read([b for b in self._fields if b.field.scope != "car"])  # a new session: everything anew
        elif self._state.player_index != self._player_index:
            self._player_index = self._state.player_index  # a new player car (or none): offer all of it
            self._read([b for b in self._fields if b.field.scope == "player"])
        plans = self._plans
        for group in groups:
            plan = plans.get(group)
            if plan is None:
                plan = plans[group] = self._plan(group)
            immediate, timed = plan
            if immediate:
                self._read(immediate)
            for rate in timed:
                self._dirty[rate].add(group)
        for group, cars in changed.cars.items():
            plan = plans.get(group)
            if plan is None:
                plan = plans[group] = self._plan(group)
            immediate, timed = plan
            if immediate:
                self._read(immediate, cars)
            for rate in timed:
                self._dirty_cars[rate].update((car, group) for car in cars)
        if EVENTS in groups:
            self._take_events()

    def _plan(self, group: str) -> tuple[list[_Bound], tuple[str, ...]]:
        """What a change of `group` means: (fields to read now, rate classes to mark)."""
        immediate = [b for rate in IMMEDIATE for b in self._by_group.get((rate, group), ())]
        return immediate, tuple(rate for rate in TIMED if (rate, group) in self._by_group)

    def mark(self, group: str) -> None:
        """Something outside the session state changed (bridge status, receiving flag)."""
        self.on_packet(Changes.of(group))

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
            slots = self._state.num_slots
            for car, name in cars:
                if car < slots:
                    self._read(self._by_group[(rate, name)], (car,))

    def next_due(self) -> float:
        return min(self._due.values())

    def _update_cars(self, renew: bool = False) -> None:
        """Cars that left get their retained topics cleared (empty retained payload); new cars get everything
        (with `renew`, every active car does: a new session)."""
        active = set(self._state.active) if self._publish.cars == "all" else set()
        for car in self._published_cars - active:
            prefix = f"{self.root}/cars/{car}/"
            self._reader.forget(keep=lambda topic, prefix=prefix: not str(topic).startswith(prefix))
            for topic in [t for t in {*self._sent, *self._inflight} if t.startswith(prefix)]:
                self._sent.pop(topic, None)
                f = self._field_of(topic)
                if f is not None and f.retain:
                    # Same QoS as the values: MQTT orders messages per QoS, so a clear at QoS 1 could be
                    # overtaken by the car's next value at QoS 0 (the client holds QoS 1 back for its window).
                    self.pending[topic] = Message(topic, "", f.qos, True, "clear")
            for target in (self.pending, self.pending_realtime):
                for topic in [t for t, m in target.items() if t.startswith(prefix) and m.rate != "clear"]:
                    del target[topic]
        added = active if renew else active - self._published_cars
        self._published_cars = active
        if added:
            self._read([b for b in self._fields if b.field.scope == "car"], sorted(added))

    def _field_of(self, topic: str) -> Field | None:
        relative = topic[len(self.root) + 1 :]
        parts = relative.split("/")
        if len(parts) > 2 and parts[0] == "cars":
            relative = "/".join(["cars", "{car}", *parts[2:]])
        return _FIELDS_BY_PATH.get(relative)

    def _take_events(self) -> None:
        for event in self._state.events:
            if event.seq <= self._event_cursor:
                continue
            self._event_cursor = event.seq
            relative = EVENT_TOPIC.format(code=segment(event.code))
            if not self.allowed(relative):
                continue
            payload = json_text(
                {"code": event.code, "session_time": round(event.session_time, 3), **event.details},
                separators=(",", ":"),
            )
            self.events.append(Message(join(self.root, relative), payload, 1, False, "event"))

    # ------------------------------------------------------------------------------------------ network side

    def snapshot(self) -> None:
        """After a (re)connect the broker may have lost everything: forget what it had and offer it all again."""
        self._sent.clear()
        self._inflight.clear()
        self._reader.forget()
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
                    message = source.pop(next(iter(source)))
                    self._inflight[message.topic] = message  # what the broker will have, once confirmed
                    batch.append(message)
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
        if self._inflight.get(message.topic) is message:
            del self._inflight[message.topic]
        if message.rate == "clear":
            self._sent.pop(message.topic, None)
        else:
            self._sent[message.topic] = (message.payload, message.numeric)

    def failed(self, message: Message) -> None:
        """Not sent: keep it pending unless a newer value for the topic is already waiting."""
        if message.rate == "event":
            self.events.appendleft(message)
            return
        if self._inflight.get(message.topic) is message:
            del self._inflight[message.topic]
        target = self.pending_realtime if message.rate == "realtime" else self.pending
        target.setdefault(message.topic, message)

    def offer_message(self, message: Message) -> None:
        """A message from another reader (Home Assistant discovery, WLED): latest wins per topic; events (Home
        Assistant's event entities) join the ordered event queue, where none replaces another."""
        if message.rate == "event":
            self.events.append(message)
            return
        target = self.pending_realtime if message.rate == "realtime" else self.pending
        target[message.topic] = message


_FIELDS_BY_PATH = {f.path: f for f in CATALOG}
