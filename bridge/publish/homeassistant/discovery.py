"""Home Assistant discovery as an output service: configs on connect and on Home Assistant's birth message,
rate-limited states, event entities (see the package's docstring for what Home Assistant sees)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterable
from typing import Any

from bridge import __version__
from bridge.publish.catalog import CATALOG, Field, Ha
from bridge.publish.fieldread import Context, FieldReader
from bridge.publish.homeassistant.entities import (
    LIVE_RATES,
    SCOPE_GROUPS,
    STATE_RATE,
    Announcer,
    Entity,
    support_url,
)
from bridge.publish.homeassistant.events import GameEvents
from bridge.publish.outbox import Message, Outbox
from bridge.publish.policy import TopicPolicy
from bridge.publish.service import Deps
from bridge.publish.topics import checked
from bridge.state.changes import ACTIVE, EVENTS, RESET, Changes

# Discovery goes out again this long after Home Assistant's last `online` (random within the range, so that many
# bridges restarting with one Home Assistant do not answer in the same instant) ...
REPUBLISH_DELAY_S = (0.5, 1.5)
# ... or at the latest this long after the first `online` of a burst that does not stop.
REPUBLISH_MAX_WAIT_S = 10.0
BIRTH = b"online"  # Home Assistant's birth payload; compared as bytes: a large payload is never decoded


class HomeAssistant:
    """The discovery service: configs on connect and on Home Assistant's birth message, rate-limited states,
    event entities."""

    name = "homeassistant"

    @classmethod
    def from_deps(cls, deps: Deps) -> HomeAssistant | None:
        if not deps.settings.homeassistant.enabled:
            return None
        return cls(deps.settings, deps.view, policy=deps.policy, outbox=deps.outbox, context=deps.context,
                   wake=deps.wake)

    def __init__(
        self,
        settings: Any,
        view: Any,
        *,
        policy: TopicPolicy,
        outbox: Outbox,
        context: Context | None = None,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        """`settings`: the bridge's (its `homeassistant` section); `view`: the read-only state (None: announce the
        whole catalogue, read nothing); `context`: what session, bridge and lights fields read."""
        ha = settings.homeassistant
        self._policy = policy
        self._outbox = outbox
        self._view = view
        self._wake = wake
        self._prefix = ha.discovery_prefix
        self._rig = policy.rig
        self._root = policy.root
        self._groups = set(ha.groups)
        self._period = 1.0 / ha.max_rate_hz
        self._max_rate = ha.max_rate_hz
        self._cars_mode = settings.publish.cars
        self.status_topic = f"{ha.discovery_prefix}/status"
        self.subscriptions: tuple[str, ...] = (self.status_topic,)
        status = [{"topic": f"{self._root}/status", "payload_available": "online",
                   "payload_not_available": "offline"}]
        receiving = [{"topic": f"{self._root}/game/receiving", "payload_available": "true",
                      "payload_not_available": "false"}] if policy.allowed("game/receiving") else []
        device = {
            "identifiers": [f"rigbridge_{self._rig}"],
            "name": f"rigbridge {self._rig}",
            "manufacturer": "rigbridge",
            "model": view.game_model if view is not None else "telemetry bridge",
            "sw_version": __version__,
        }
        origin: dict[str, str] = {"name": "rigbridge", "sw_version": __version__}
        url = support_url()
        if url:
            origin["support_url"] = url
        self._announce = Announcer(self._prefix, self._rig, status, status + receiving, device, origin)
        self._game = None if view is None else view.game
        # Entities of the player, session, lights and bridge: fixed while one game runs.
        self._fixed: list[Entity] = [
            self._entity(f, f.ha, None) for f in CATALOG
            if f.scope != "car" and f.ha is not None and self._wanted(f, f.path)
        ]
        # Event entities and device triggers (group `events`), fixed for the run.
        self._events_on = "events" in self._groups  # the configured Home Assistant group, not a change group
        self._events = GameEvents(self._root, outbox, view)
        self._event_configs = self._announce.event_configs(self._events.topics)
        # Configs of the catalogue left out by the settings: cleared on connect, so that shrinking the groups or
        # excluding topics removes what an earlier run announced.
        self._left_out = [
            self._entity(f, f.ha, None).config_topic for f in CATALOG
            if f.scope != "car" and f.ha is not None and not self._wanted(f, f.path)
        ]
        if not self._events_on:
            self._left_out += [topic for topic, _ in self._event_configs]
        # Per-car templates; entities are made for the active cars.
        self._car_fields: list[tuple[Field, Ha]] = []
        if "cars" in self._groups and self._cars_mode == "all":
            self._car_fields = [(f, f.ha) for f in CATALOG if f.scope == "car" and f.ha is not None]
        self._cars: dict[int, list[Entity]] = {}
        self._announced_cars: set[int] = set()  # every car slot that had entities in this run
        self._entities: list[Entity] = []
        self._limited: list[Entity] = []
        self._rebuild()
        # State topic -> payload last offered ("" for a cleared value).
        self._reader = FieldReader(view, context)
        self._dirty: set[str] = set()
        self._everything = True
        self._player_index: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._republish: asyncio.TimerHandle | None = None  # pending discovery round after Home Assistant's birth
        self._birth_first = 0.0  # loop time of the first and the last `online` of the pending round
        self._birth_last = 0.0
        self._birth_delay = 0.0

    async def start(self) -> None:
        pass  # everything starts with the connection (`on_connect`)

    async def close(self) -> None:
        for timer in (self._timer, self._republish):
            if timer is not None:
                timer.cancel()
        self._timer = None
        self._republish = None

    # ------------------------------------------------------------------------------------------ entities

    def _wanted(self, f: Field, relative: str) -> bool:
        if SCOPE_GROUPS.get(f.scope) not in self._groups:
            return False
        if self._view is not None and not self._view.provides(f.path):
            return False  # the running game does not send it
        if f.scope == "player" and self._cars_mode not in ("all", "player"):
            return False
        if f.scope == "car" and self._cars_mode != "all":
            return False
        return self._policy.allowed(relative)

    def _entity(self, f: Field, ha: Ha, car: int | None) -> Entity:
        relative = f.topic(car)
        object_id = relative.replace("/", "_")
        # A field faster than the limit, or one whose own topic is not retained, gets a retained copy at the limit.
        limited = self._policy.rate_hz[f.rate] > self._max_rate or not f.retain
        return Entity(
            field=f,
            ha=ha,
            car=car,
            relative=relative,
            config_topic=checked(f"{self._prefix}/{ha.component}/{self._rig}/{object_id}/config"),
            state_topic=checked(f"{self._root}/ha/{relative}" if limited else f"{self._root}/{relative}"),
            limited=limited,
            live=f.rate in LIVE_RATES and not ha.diagnostic,
        )

    def _rebuild(self) -> None:
        self._entities = [*self._fixed, *(e for car in sorted(self._cars) for e in self._cars[car])]
        self._limited = [e for e in self._entities if e.limited]

    @property
    def entities(self) -> list[Entity]:
        return list(self._entities)

    @property
    def rig(self) -> str:
        return self._rig

    @property
    def root(self) -> str:
        return self._root

    def car_entities(self, car: int) -> list[Entity]:
        """The entities a car slot has while it is in the session (none without the `cars` group)."""
        return [self._entity(f, ha, car) for f, ha in self._car_fields if self._wanted(f, f.topic(car))]

    def config(self, e: Entity) -> dict[str, Any]:
        """The discovery payload of one entity."""
        return self._announce.config(e)

    @property
    def event_configs(self) -> list[tuple[str, dict[str, Any]]]:
        """The event entities and device triggers this run announces (none without the `events` group)."""
        return list(self._event_configs) if self._events_on else []

    def _offer_config(self, e: Entity) -> None:
        payload = json.dumps(self.config(e), separators=(",", ":"), ensure_ascii=False)
        self._outbox.offer(Message(e.config_topic, payload, 1, True, "discovery"))

    def _remove(self, e: Entity) -> None:
        self._outbox.offer(Message(e.config_topic, "", 1, True, "discovery"))
        if e.limited:
            self._reader.discard(e.state_topic)
            self._outbox.offer(Message(e.state_topic, "", 0, True, "clear"))

    def publish_discovery(self) -> None:
        """Every current entity's config."""
        for e in self._entities:
            self._offer_config(e)
        for topic, config in self.event_configs:
            payload = json.dumps(config, separators=(",", ":"), ensure_ascii=False)
            self._outbox.offer(Message(topic, payload, 1, True, "discovery"))
        self._wake()

    # ------------------------------------------------------------------------------------------ cars

    def _sync_cars(self) -> None:
        if not self._car_fields:
            return
        active = set(self._view.active)
        gone = [car for car in self._cars if car not in active]
        for car in gone:
            for e in self._cars.pop(car):
                self._remove(e)
        added = sorted(active - set(self._cars))
        for car in added:
            self._cars[car] = self.car_entities(car)
            self._announced_cars.add(car)
            for e in self._cars[car]:
                self._offer_config(e)
        if gone or added:
            self._rebuild()
            self._everything = True
            self._wake()

    def _withdraw_cars(self) -> None:
        """Car slots announced earlier in this run and empty now: remove them again (the broker may have
        restarted with an old retained config, or the removal was still pending when the connection dropped)."""
        if not self._car_fields:
            return
        for car in sorted(self._announced_cars - set(self._cars)):
            for e in self.car_entities(car):
                self._outbox.offer(Message(e.config_topic, "", 1, True, "discovery"))

    # ------------------------------------------------------------------------------------------ states

    def _feed(self, entities: Iterable[Entity]) -> bool:
        offered = False
        reader = self._reader
        for e in entities:
            f = e.field
            value = reader.read(f, e.car)
            payload = f.render(value)
            # Unknown now (None): clear what is retained (Home Assistant shows unknown); once per topic and connection.
            if not reader.changed(e.state_topic, "" if payload is None else payload):
                continue
            numeric = None if payload is None else f.numeric(value)
            self._outbox.offer(Message(e.state_topic, payload or "", 0, True, STATE_RATE, numeric))
            offered = True
        return offered

    def flush(self) -> None:
        """Offer the rate-limited states that changed since the last turn (at most one per entity), and the flag's
        change as an event."""
        player_index = self._view.player_index
        everything = self._everything or player_index != self._player_index
        self._everything = False
        self._player_index = player_index
        dirty, self._dirty = self._dirty, set()
        due = [
            e for e in self._limited
            if everything or e.field.group in dirty or e.field.scope in ("game", "bridge")
        ]
        offered = self._feed(due)
        if self._events_on:
            offered = self._events.watch_flag(self._reader.context.lights.flag) or offered
        if offered:
            self._wake()

    def _tick(self) -> None:
        self._timer = None
        try:
            self.flush()
        finally:
            self._schedule()  # a failed turn (reported by the loop's exception handler) must not end the timer

    def _schedule(self) -> None:
        if not self._limited and not self._car_fields and not self._events_on:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not on an event loop (direct use): call flush() yourself
        self._timer = loop.call_later(self._period, self._tick)

    # ------------------------------------------------------------------------------------------ service

    def _game_changed(self) -> None:
        """Another game runs: announce its entities and withdraw those of the fields it does not provide."""
        view = self._view
        self._game = view.game
        self._announce.device["model"] = view.game_model
        fields = [(f, f.ha) for f in CATALOG if f.scope != "car" and f.ha is not None]
        self._fixed = [self._entity(f, ha, None) for f, ha in fields if self._wanted(f, f.path)]
        withdrawn = [self._entity(f, ha, None).config_topic for f, ha in fields if not self._wanted(f, f.path)]
        announced = {e.config_topic for e in self._fixed}
        self._left_out = [t for t in dict.fromkeys([*self._left_out, *withdrawn]) if t not in announced]
        self._rebuild()
        for topic in withdrawn:
            self._outbox.offer(Message(topic, "", 1, True, "discovery"))
        self.publish_discovery()

    def on_change(self, changed: Changes) -> None:
        groups = changed.groups
        reset = RESET in groups
        if reset and self._view.game != self._game:
            self._game_changed()
        if reset or ACTIVE in groups:
            self._sync_cars()
        if reset:
            self._everything = True
        if EVENTS in groups and self._events_on:
            self._events.take()
        dirty = self._dirty
        dirty.update(groups)
        dirty.update(changed.cars)  # a per-car group marks its fields of the player too: read at the next turn

    def on_connect(self) -> None:
        """After every (re)connect: the broker may have lost everything, so all configs and states again."""
        self._sync_cars()
        self._withdraw_cars()
        for topic in self._left_out:
            self._outbox.offer(Message(topic, "", 1, True, "discovery"))
        self.publish_discovery()
        self._reader.forget()
        self._everything = True
        self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._schedule()

    def on_message(self, topic: str, payload: bytes) -> None:
        """Home Assistant's birth message asks for discovery again; anything but the exact `online` asks nothing."""
        if payload != BIRTH or topic != self.status_topic:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish_discovery()  # not on an event loop (direct use): nothing to debounce against
            return
        now = loop.time()
        self._birth_last = now
        if self._republish is None:
            self._birth_first = now
            self._birth_delay = random.uniform(*REPUBLISH_DELAY_S)
            self._republish = loop.call_at(now + self._birth_delay, self._republish_due)

    def _republish_due(self) -> None:
        """One discovery round once `online` has been quiet for the delay (or the burst has lasted too long)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        quiet_at = self._birth_last + self._birth_delay
        if now < quiet_at and now - self._birth_first < REPUBLISH_MAX_WAIT_S:
            self._republish = loop.call_at(min(quiet_at, self._birth_first + REPUBLISH_MAX_WAIT_S), self._republish_due)
            return
        self._republish = None
        self.publish_discovery()
        self._refresh_states()

    def _refresh_states(self) -> None:
        """Every entity's current value again, retained: a Home Assistant that (re)starts gets a value for each,
        even where the broker has dropped an unchanged retained value at its MQTT 5 expiry (`publish.expiry_s`)."""
        for e in self._entities:
            if e.limited:
                continue  # the rate-limited copies: retained without expiry, sent again by flush() below
            f = e.field
            value = self._reader.read(f, e.car)
            payload = f.render(value)
            if payload is not None:
                self._outbox.offer(
                    Message(e.state_topic, payload, f.qos, True, STATE_RATE, f.numeric(value),
                            self._policy.expires(True)))
        self._reader.forget()
        self._everything = True
        self.flush()
