"""What to publish and when: the catalogue's values, change-only, with deadbands and rate classes.

The engine is an output. After each packet the pipeline hands it the writer's change set; realtime fields of the
groups that changed are read at once, the others when their rate class comes due, and for per-car groups only
the cars that changed. A value goes to the outbox only when it differs from what the broker has or will have
(beyond the field's deadband). What waits and what the broker has is the outbox's business
(`bridge/publish/outbox.py`); which topics exist, their QoS, expiry and deadbands are the topic policy's
(`bridge/publish/policy.py`); reading and change detection are the field reader's (`fieldread.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from bridge.faults import Faults
from bridge.jsontext import json_text
from bridge.publish.catalog import CATALOG, EVENT_TOPIC, Field
from bridge.publish.fieldread import Context, FieldReader
from bridge.publish.outbox import Message, Outbox
from bridge.publish.policy import TIMED_RATES, TopicPolicy
from bridge.publish.service import DatagramTime, Deps
from bridge.publish.topics import join, segment
from bridge.state.changes import ACTIVE, EVENTS, RESET, Changes
from bridge.supervise import cancel, supervise

IMMEDIATE = ("realtime",)  # read right after the packet that changed them
# Read when their turn comes. `on_change` fields (positions, laps, tyres...) are discrete: they are checked at the
# fast rate and sent as soon as they moved, so a packet at 60 Hz costs nothing for the ~50 of them per car.
TIMED = TIMED_RATES


@dataclass(frozen=True, slots=True)
class _Bound:
    """A catalogue field with the deadband this configuration gives it, and its topics once known."""

    field: Field
    deadband: float
    qos: int
    expires: bool
    # car index (None for a field without one) -> full topic, or None where include/exclude leave it out
    topics: dict[int | None, str | None] = dataclasses.field(default_factory=dict, compare=False)


class PublishEngine:
    name = "mqtt"

    def __init__(
        self,
        settings: Any,
        state: Any,
        status: Any,
        lights: Any,
        *,
        policy: TopicPolicy | None = None,
        outbox: Outbox | None = None,
        datagram_time: DatagramTime | None = None,
        wake: Callable[[], None] = lambda: None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        catalog: Iterable[Field] = CATALOG,
    ) -> None:
        """`settings`: the bridge's (its `mqtt` and `publish` sections, when no `policy` is given); `state`: the
        read-only view; `status` and `lights`: what bridge and lights fields read; `datagram_time`: the receive
        time of the datagram being handled (latency of realtime values); `wake`: called when the rate-class
        ticker left something in the outbox."""
        self.policy = policy if policy is not None else TopicPolicy(settings)
        self.outbox = outbox if outbox is not None else Outbox()
        self.datagram_time = datagram_time if datagram_time is not None else DatagramTime()
        self._wake = wake
        self._faults = faults if faults is not None else Faults()
        self._task: asyncio.Task[None] | None = None
        self.root = self.policy.root
        self._periods = self.policy.periods
        self._clock = clock
        self._state = state  # the read-only view
        self._reader = FieldReader(state, Context(state, status, lights))
        self.context = self._reader.context
        self._changed = self._reader.changed  # bound once: called for every field offered on the 60 Hz path
        self._catalog = [f for f in catalog if self.policy.wanted_scope(f)]
        self._bind_fields()
        self._dirty: dict[str, set[str]] = {rate: set() for rate in TIMED}
        self._dirty_cars: dict[str, set[tuple[int, str]]] = {rate: set() for rate in TIMED}
        self._due = {rate: 0.0 for rate in TIMED}
        self._event_cursor = 0
        self._published_cars: set[int] = set()
        self._player_index = -1

    @classmethod
    def from_deps(cls, deps: Deps) -> PublishEngine:
        return cls(deps.settings, deps.view, deps.status, deps.lights, policy=deps.policy, outbox=deps.outbox,
                   datagram_time=deps.datagram_time, wake=deps.wake, faults=deps.faults)

    # ------------------------------------------------------------------------------------------ service

    subscriptions: tuple[str, ...] = ()

    async def start(self) -> None:
        """The rate-class ticker, supervised: it reads what comes due and wakes the link."""
        self._task = asyncio.get_running_loop().create_task(
            supervise("ticker", self._ticker, self._faults), name="rigbridge-ticker")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel(task)

    async def _ticker(self) -> None:
        while True:
            delay = max(0.0, self.next_due() - self._clock())
            await asyncio.sleep(min(delay, 0.1))
            self.tick()
            if self.outbox.has_pending():
                self._wake()

    def on_message(self, topic: str, payload: bytes) -> None:
        pass

    # ------------------------------------------------------------------------------------------ set-up

    def _bind_fields(self) -> None:
        """Bind the catalogue fields the running game provides (all of them before a state is given)."""
        state = self._state
        self._game = None if state is None else state.game
        policy = self.policy
        self._fields = [
            _Bound(f, policy.deadband(f), policy.qos(f), policy.expires(f.retain))
            for f in self._catalog if state is None or state.provides(f.path)
        ]
        # (rate class, group) -> bound fields, split by who they are read from.
        self._by_group: dict[tuple[str, str], list[_Bound]] = {}
        for b in self._fields:
            self._by_group.setdefault((b.field.rate, b.field.group), []).append(b)
        self._plans: dict[str, tuple[list[_Bound], tuple[str, ...]]] = {}  # group -> _plan()

    # ------------------------------------------------------------------------------------------ reading

    def _topic(self, b: _Bound, car: int | None) -> str | None:
        relative = b.field.path.format(car=car) if car is not None else b.field.path
        topic = f"{self.root}/{relative}" if self.policy.allowed(relative) else None
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
        outbox = self.outbox
        if payload is None:
            # Unknown again (a new session, a car without laps yet): what the broker retains is stale now.
            if f.retain and outbox.known(topic):
                outbox.offer(Message(topic, "", f.qos, True, "clear"))
            return
        numeric = f.numeric(value)
        last = outbox.last_known(topic)
        if last is not None:
            last_payload, last_numeric = last
            if last_payload == payload or (
                b.deadband and numeric is not None and last_numeric is not None
                and abs(numeric - last_numeric) <= b.deadband
            ):
                outbox.withdraw(topic, f.rate == "realtime")  # back to what the broker has: nothing to send
                return
        outbox.offer(Message(topic, payload, b.qos, f.retain, f.rate, numeric, b.expires, self.datagram_time.ns))

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

    def on_change(self, changed: Changes) -> None:
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
        self.on_change(Changes.of(group))

    def tick(self) -> None:
        """Read the fields of every rate class that is due, for the groups that changed since its last turn."""
        now = self._clock()
        for rate in TIMED:
            if now < self._due[rate]:
                continue
            self._due[rate] = now + self._periods[rate]
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
        active = set(self._state.active) if self.policy.cars == "all" else set()
        outbox = self.outbox
        for car in self._published_cars - active:
            prefix = f"{self.root}/cars/{car}/"
            self._reader.forget(keep=_outside(prefix))
            for topic in outbox.known_under(prefix):
                f = self._field_of(topic)
                if f is not None and f.retain:
                    # Same QoS as the values: MQTT orders messages per QoS, so a clear at QoS 1 could be
                    # overtaken by the car's next value at QoS 0 (the client holds QoS 1 back for its window).
                    outbox.offer(Message(topic, "", f.qos, True, "clear"))
            outbox.withdraw_under(prefix)
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
            if not self.policy.allowed(relative):
                continue
            payload = json_text(
                {"code": event.code, "session_time": round(event.session_time, 3), **event.details},
                separators=(",", ":"),
            )
            self.outbox.offer(Message(join(self.root, relative), payload, 1, False, "event"))

    # ------------------------------------------------------------------------------------------ after a connect

    def on_connect(self) -> None:
        """The broker may have lost everything (the outbox has forgotten what it had): offer it all again."""
        self._reader.forget()
        self._published_cars = set()
        self._update_cars()
        self._read([b for b in self._fields if b.field.scope != "car"])

    def snapshot(self) -> None:
        """Forget what the broker had and offer everything again (what the link does after a (re)connect)."""
        self.outbox.reset()
        self.on_connect()


def _outside(prefix: str) -> Callable[[Hashable], bool]:
    """Keys (topics) not under `prefix`."""
    return lambda topic: not str(topic).startswith(prefix)


_FIELDS_BY_PATH = {f.path: f for f in CATALOG}
