"""Home Assistant MQTT discovery, generated from the field catalogue.

One device per rig (`identifiers: ["rigbridge_<rig>"]`) holds one sensor or binary sensor per catalogue field that
has Home Assistant metadata (`Field.ha`), in the groups `homeassistant.groups` names and allowed by the include and
exclude globs, and (group `events`) event entities and device triggers for the race's events. Each entity's config
goes to `<prefix>/<component>/<rig>/<object_id>/config` (retained, QoS 1), where `<object_id>` is the topic path
with `/` as `_`; its `unique_id` is `rigbridge_<rig>_<object_id>`, so it is the same in every run of the same rig.

What Home Assistant sees (behaviour read in home-assistant/core 2025.4, `components/mqtt/sensor.py`
`MqttSensor._update_state` and `binary_sensor.py` `_state_message_received`, unchanged through 2026.2):
- An empty payload is ignored by numeric and binary sensors (the old value stays) and becomes `''` on text
  sensors, but the payload `None` (`PAYLOAD_NONE` in `components/mqtt/const.py`) sets every sensor and binary
  sensor to unknown. A value whose topic is cleared (a new session, a car without a lap yet) must read unknown, so
  every entity carries a `value_template` that renders `None` for the empty payload (Jinja renders Python's None
  as the text `None`).
- An `enum` sensor ignores, with a warning, a state that is not one of its `options`. Enum payloads are slugs
  (`baku_azerbaijan`); the template maps each to the readable name that is also its option (`Baku (Azerbaijan)`),
  and anything it does not know (a new game's id) to `None`, so a new track reads unknown, never a warning.

Values: fields that change faster than `homeassistant.max_rate_hz` (and fields whose own topic is not retained)
get their own state topic, `<root>/ha/<path>`, which this reader feeds from the state at most `max_rate_hz` times
per second, change-only, retained: Home Assistant gets every value when it subscribes (after discovery, after its
restart), so nothing needs `expire_after` and nothing expires while it is current. Slower fields point at their
main topic, which is retained.

Availability: live values (rate class realtime, fast or normal: speed, inputs, gaps, temperatures) follow the
bridge status and `game/receiving`; facts that stay true when the game pauses (track, session type, lap times,
positions, results, tyres fitted) and bridge health follow the bridge status only.

Discovery is published after every (re)connect, and once after Home Assistant announces itself online on
`<prefix>/status`: a short random delay after the last `online`, as Home Assistant's MQTT documentation advises
for many devices, so that a burst (or a flood) of `online` messages costs one round; with it, every entity's current value
again (the broker may have dropped an unchanged retained value at its MQTT 5 expiry). A car slot that leaves the
session has its entities removed with empty retained configs.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from bridge import __version__
from bridge.config import Settings
from bridge.state.enums import Names, Slugs, slug
from bridge.jsontext import json_text
from bridge.publish.catalog import CATALOG, FLAGS, Field, Ha
from bridge.publish.fieldread import Context, FieldReader
from bridge.publish.outbox import Message, Outbox
from bridge.publish.policy import TopicPolicy
from bridge.publish.service import Deps
from bridge.publish.topics import checked
from bridge.state.changes import ACTIVE, EVENTS, RESET, Changes
from bridge.state.session import seconds_to_ms

# The configured group each catalogue scope belongs to.
SCOPE_GROUPS = {"game": "session", "session": "session", "player": "player", "car": "cars", "lights": "lights",
                "bridge": "bridge"}
STATE_RATE = "homeassistant"  # rate label of the rate-limited state messages (metrics count them under it)
LIVE_RATES = frozenset({"realtime", "fast", "normal"})  # values that only hold while the game sends
# The empty payload (a cleared topic) renders None, which Home Assistant shows as unknown.
VALUE_TEMPLATE = "{{ value if value else None }}"
# Discovery goes out again this long after Home Assistant's last `online` (random within the range, so that many
# bridges restarting with one Home Assistant do not answer in the same instant) ...
REPUBLISH_DELAY_S = (0.5, 1.5)
# ... or at the latest this long after the first `online` of a burst that does not stop.
REPUBLISH_MAX_WAIT_S = 10.0
BIRTH = b"online"  # Home Assistant's birth payload; compared as bytes: a large payload is never decoded
_ENTITY_ID_UNSAFE = re.compile(r"[^a-z0-9_]+")
_UNIT_SUFFIXES = {"c", "ms", "kph", "pct", "psi", "kpa", "kg", "j", "s", "m", "laps"}
_WORDS = {"temp": "temperature", "tyres": "tyre", "brakes": "brake"}
_UPPER = {"fl", "fr", "rl", "rr", "drs", "ers", "rpm", "fia"}



@dataclass(frozen=True, slots=True)
class Entity:
    field: Field
    ha: Ha
    car: int | None
    relative: str  # the field's topic path below <root>
    config_topic: str
    state_topic: str
    limited: bool  # state fed by this reader on <root>/ha/<path>
    live: bool  # available only while the game sends (else while the bridge is online)


# ------------------------------------------------------------------------------------------------ events

UDP_ACTIONS = 12  # the wheel's UDP action buttons, bits 20-31 of the BUTN event's button status
_UDP_ACTION_BITS = tuple((1 << (20 + n), f"udp_action_{n + 1}") for n in range(UDP_ACTIONS))
SAFETY_CAR_KINDS = ("full_safety_car", "virtual_safety_car", "formation_lap_safety_car")
SAFETY_CAR_PHASES = ("deployed", "returning", "returned", "resume_race")


@dataclass(frozen=True, slots=True)
class GameEvent:
    """One Home Assistant event entity (and its device triggers) on `<root>/ha/event/<key>`."""

    key: str
    name: str
    icon: str
    event_types: tuple[str, ...] | Slugs
    trigger_type: str | None = None  # device trigger type (one trigger per event type); None: no triggers
    device_class: str | None = None


GAME_EVENTS = (
    GameEvent("flag", "Flag change", "mdi:flag", FLAGS, "flag"),
    GameEvent("safety_car", "Safety car phase", "mdi:car-emergency",
              tuple(f"{k}_{p}" for k in SAFETY_CAR_KINDS for p in SAFETY_CAR_PHASES), "safety_car"),
    GameEvent("penalty", "Penalty", "mdi:gavel",
              Slugs(Names("penaltyType"))),
    GameEvent("fastest_lap", "Fastest lap", "mdi:timer-star", ("fastest_lap",), "fastest_lap"),
    GameEvent("chequered_flag", "Chequered flag", "mdi:flag-checkered", ("chequered_flag",), "chequered_flag"),
    GameEvent("button", "Wheel button", "mdi:gesture-tap-button", tuple(name for _, name in _UDP_ACTION_BITS),
              "button_short_press", device_class="button"),
)


def _support_url() -> str | None:
    """The project URL from the installed package metadata, when the package declares one."""
    try:
        meta = metadata.metadata("rigbridge")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or ():
        _, _, url = entry.partition(",")
        if url.strip():
            return url.strip()
    home = meta.get("Home-page")
    return home or None


def entity_name(relative: str) -> str:
    """A readable entity name from a topic path: `player/tyres/fl/surface_temp_c` -> `Tyres FL surface temp`."""
    parts = relative.split("/")
    prefix = ""
    if parts[0] in ("player", "session") and len(parts) > 1:
        parts = parts[1:]
    elif parts[0] == "cars":
        prefix, parts = f"Car {parts[1]} ", parts[2:]
    words: list[str] = []
    for part in parts:
        words.extend(re.sub(r"([a-z])(\d)", r"\1 \2", part).split("_"))
    words = [w for w in words if w != "pct"] if len(words) > 1 and words[-1] != "pct" else words
    if words[-2:] == ["per", "s"]:
        words[-1] = "second"
    elif len(words) > 1 and words[-1] in _UNIT_SUFFIXES:
        words.pop()
    words = [_WORDS.get(w, w.upper() if w in _UPPER else w) for w in words]
    text = prefix + " ".join(words)
    return text[:1].upper() + text[1:]


def ha_slug(text: str) -> str:
    """The entity id part Home Assistant makes from a name (before 2025.10, without `default_entity_id`)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _ENTITY_ID_UNSAFE.sub("_", ascii_text.lower()).strip("_")


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

    async def start(self) -> None:
        pass  # everything starts with the connection (`on_connect`)

    async def close(self) -> None:
        for timer in (self._timer, self._republish):
            if timer is not None:
                timer.cancel()
        self._timer = self._republish = None

    def __init__(
        self,
        settings: Settings,
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
        self._status = [{"topic": f"{self._root}/status", "payload_available": "online",
                         "payload_not_available": "offline"}]
        receiving = [{"topic": f"{self._root}/game/receiving", "payload_available": "true",
                      "payload_not_available": "false"}] if policy.allowed("game/receiving") else []
        self._live = self._status + receiving
        self._device = {
            "identifiers": [f"rigbridge_{self._rig}"],
            "name": f"rigbridge {self._rig}",
            "manufacturer": "rigbridge",
            "model": view.game_model if view is not None else "telemetry bridge",
            "sw_version": __version__,
        }
        self._origin: dict[str, str] = {"name": "rigbridge", "sw_version": __version__}
        url = _support_url()
        if url:
            self._origin["support_url"] = url
        self._game = None if view is None else view.game
        # Entities of the player, session, lights and bridge: fixed while one game runs.
        self._fixed: list[Entity] = [
            self._entity(f, f.ha, None) for f in CATALOG
            if f.scope != "car" and f.ha is not None and self._wanted(f, f.path)
        ]
        # Event entities and device triggers (group `events`), fixed for the run.
        self._events_on = "events" in self._groups  # the configured Home Assistant group, not a change group
        self._event_topics = {e.key: checked(f"{self._root}/ha/event/{e.key}") for e in GAME_EVENTS}
        self._event_types = {e.key: frozenset(e.event_types) for e in GAME_EVENTS}
        self._event_configs = self._game_event_configs()
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
        # Events: only those after the start of this reader are news.
        self._event_cursor = getattr(view, "event_seq", 0)
        self._flag: str | None = None  # the flag last seen, to announce its changes
        self._buttons = 0  # the wheel's button status last seen, to announce presses

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

    @staticmethod
    def display_name(e: Entity) -> str:
        """The entity's name: the catalogue's, or one made from the topic path; per car, `Car <index> ...`."""
        if e.ha.name is None:
            return entity_name(e.relative)
        if e.car is None:
            return e.ha.name
        name = e.ha.name if e.ha.name[1:2].isupper() else e.ha.name[:1].lower() + e.ha.name[1:]  # keep "DRS"
        return f"Car {e.car} {name}"

    def config(self, e: Entity) -> dict[str, Any]:
        """The discovery payload of one entity."""
        f, ha = e.field, e.ha
        object_id = e.relative.replace("/", "_")
        entity_id = _ENTITY_ID_UNSAFE.sub("_", f"rigbridge_{self._rig}_{object_id}".lower())
        config: dict[str, Any] = {
            "name": self.display_name(e),
            "unique_id": f"rigbridge_{self._rig}_{object_id}",
            "default_entity_id": f"{ha.component}.{entity_id}",
            "state_topic": e.state_topic,
            "value_template": VALUE_TEMPLATE,
            "availability": self._live if e.live else self._status,
            "availability_mode": "all",
            "device": self._device,
            "origin": self._origin,
        }
        if ha.labels:
            # Slug -> readable name; anything else (the empty payload, an id this version does not know) -> None.
            names = json.dumps(dict(ha.labels), ensure_ascii=False, separators=(",", ":"))
            config["value_template"] = "{{ " + names + ".get(value) }}"
        if ha.component == "binary_sensor":
            config["payload_on"] = "true"
            config["payload_off"] = "false"
        if ha.device_class:
            device_class = ha.device_class
            if device_class == "energy" and ha.state_class == "measurement":
                device_class = "energy_storage"  # Home Assistant's class for a stored amount (total for "energy")
            config["device_class"] = device_class
        if ha.component == "sensor":
            if ha.device_class == "enum":
                config["options"] = [name for _, name in ha.labels]
            elif f.kind in ("int", "float"):
                if ha.state_class:
                    config["state_class"] = ha.state_class
                numeric_unit = ha.unit or (f.unit if ha.device_class is None else None)
                if numeric_unit:
                    config["unit_of_measurement"] = numeric_unit
                precision = ha.precision if ha.precision is not None else f.precision if f.kind == "float" else 0
                config["suggested_display_precision"] = precision
        if ha.diagnostic:
            config["entity_category"] = "diagnostic"
        if not ha.enabled or (e.car is not None and e.limited):
            # Fast-changing sensors start disabled: the catalogue says which for the player; per car, every
            # entity on a rate-limited state topic (20 cars x speed, gear, gaps would flood the recorder).
            config["enabled_by_default"] = False
        if ha.icon:
            config["icon"] = ha.icon
        if e.field.qos:
            config["qos"] = e.field.qos
        return config

    def _game_event_configs(self) -> list[tuple[str, dict[str, Any]]]:
        """Config topic and payload of every event entity and device trigger (group `events`)."""
        out: list[tuple[str, dict[str, Any]]] = []
        for ev in GAME_EVENTS:
            object_id = f"event_{ev.key}"
            topic = self._event_topics[ev.key]
            entity: dict[str, Any] = {
                "name": ev.name,
                "unique_id": f"rigbridge_{self._rig}_{object_id}",
                "default_entity_id": "event." + _ENTITY_ID_UNSAFE.sub("_", f"rigbridge_{self._rig}_{object_id}".lower()),
                "state_topic": topic,
                "event_types": list(ev.event_types),
                "availability": self._status,
                "availability_mode": "all",
                "device": self._device,
                "origin": self._origin,
                "icon": ev.icon,
                "qos": 1,
            }
            if ev.device_class:
                entity["device_class"] = ev.device_class
            out.append((checked(f"{self._prefix}/event/{self._rig}/{object_id}/config"), entity))
            if ev.trigger_type is None:
                continue
            for event_type in ev.event_types:
                trigger = {
                    "automation_type": "trigger",
                    "topic": topic,
                    "type": ev.trigger_type,
                    "subtype": event_type,
                    "payload": event_type,
                    "value_template": "{{ value_json.event_type }}",
                    "qos": 1,
                    "device": self._device,
                }
                out.append((checked(f"{self._prefix}/device_automation/{self._rig}/{object_id}_{event_type}/config"),
                            trigger))
        return out

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
            offered = self._watch_flag() or offered
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

    # ------------------------------------------------------------------------------------------ events

    def _emit(self, key: str, event_type: str, attributes: dict[str, Any]) -> bool:
        """One event for Home Assistant, QoS 1, not retained (Home Assistant drops replayed retained events)."""
        if event_type not in self._event_types[key]:
            return False  # a value this version does not know: no event type to announce it as
        payload = json_text({"event_type": event_type, **attributes}, separators=(",", ":"), ensure_ascii=False)
        self._outbox.offer(Message(self._event_topics[key], payload, 1, False, "event"))
        return True

    def _car_attributes(self, index: Any) -> dict[str, Any]:
        """The car an event names; its driver only for a car in the session (a datagram may name any slot)."""
        driver = self._view.car(index).name if index in self._view.active_set else None
        return {"car": index, "driver": driver, "player": index == self._view.player_index}

    def _take_events(self) -> None:
        view = self._view
        fmt = view.packet_format
        for event in view.events:
            if event.seq <= self._event_cursor:
                continue
            self._event_cursor = event.seq
            d = event.details
            code = event.code
            if code == "SCAR":
                kind = slug("safetyCarStatus", fmt, d.get("safety_car_type", -1))
                self._emit("safety_car", f"{kind}_{slug('safetyCarEventType', fmt, d.get('event_type', -1))}", {})
            elif code == "PENA":
                self._emit("penalty", slug("penaltyType", fmt, d.get("penalty_type", -1)), {
                    **self._car_attributes(d.get("vehicle_idx")),
                    "infringement": slug("infringementType", fmt, d.get("infringement_type", -1)),
                    "time_s": d.get("time"), "lap": d.get("lap_num")})
            elif code == "FTLP":
                self._emit("fastest_lap", "fastest_lap", {
                    **self._car_attributes(d.get("vehicle_idx")),
                    "lap_time_ms": seconds_to_ms(d.get("lap_time", math.nan))})
            elif code == "CHQF":
                self._emit("chequered_flag", "chequered_flag", {})
            elif code == "BUTN":
                status = d.get("button_status", 0)
                pressed, self._buttons = status & ~self._buttons, status
                for bit, name in _UDP_ACTION_BITS:
                    if pressed & bit:
                        self._emit("button", name, {})

    def _watch_flag(self) -> bool:
        flag = self._reader.context.lights.flag
        previous, self._flag = self._flag, flag
        return previous is not None and flag != previous and self._emit("flag", flag, {"previous": previous})

    # ------------------------------------------------------------------------------------------ Reader

    def _game_changed(self) -> None:
        """Another game runs: announce its entities and withdraw those of the fields it does not provide."""
        view = self._view
        self._game = view.game
        self._device["model"] = view.game_model
        fields = [f for f in CATALOG if f.scope != "car" and f.ha is not None]
        self._fixed = [self._entity(f, f.ha, None) for f in fields if self._wanted(f, f.path)]
        withdrawn = [self._entity(f, f.ha, None).config_topic for f in fields if not self._wanted(f, f.path)]
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
            self._take_events()
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
                    Message(e.state_topic, payload, f.qos, True, STATE_RATE, f.numeric(value), self._policy.expires(True)))
        self._reader.forget()
        self._everything = True
        self.flush()


# ------------------------------------------------------------------------------------------------ recorder


def _catalogue_only(settings: Settings) -> HomeAssistant:
    """The discovery reader of `settings` without a bridge: what it would announce, no state read."""
    return HomeAssistant(settings, None, policy=TopicPolicy(settings), outbox=Outbox())


def recorder_exclude(settings: Settings) -> str:
    """The `recorder: exclude:` YAML that keeps this rig's fast-changing entities out of Home Assistant's history
    database (discovery cannot ask the recorder for that). Every entity fed on a rate-limited `ha/` topic (it may
    change up to `max_rate_hz` times a second) is listed under both ids it can have: `default_entity_id` (Home
    Assistant 2025.10 and later) and the id older versions make from the device and entity name. Per-car entities
    go by glob, as car slots come and go."""
    ha = _catalogue_only(settings)
    device = f"rigbridge {ha.rig}"
    ids: list[str] = []
    for e in ha.entities:
        if e.limited:
            config = ha.config(e)
            ids += [config["default_entity_id"], f"{e.ha.component}.{ha_slug(device + ' ' + config['name'])}"]
    globs = [
        glob
        for component in sorted({e.ha.component for e in ha.car_entities(0)})
        for glob in (f"{component}.rigbridge_{ha_slug(ha.rig)}_cars_*", f"{component}.{ha_slug(device)}_car_*")
    ]
    lines = [
        f"# Home Assistant recorder: keep rig {ha.rig}'s fast-changing entities out of the history database.",
        "# Generated by `rigbridge ha-recorder-exclude` from this rig's config; merge into configuration.yaml.",
        f"# {len(ids) // 2} entities that change up to {settings.homeassistant.max_rate_hz:g} times a second, each "
        "under its id since Home Assistant 2025.10 and before.",
        "recorder:",
        "  exclude:",
    ]
    if globs:
        lines += ["    entity_globs:", *(f"      - {g}" for g in globs)]
    if ids:
        lines += ["    entities:", *(f"      - {i}" for i in dict.fromkeys(ids))]
    return "\n".join(lines) + "\n"


def entities_markdown(settings: Settings) -> str:
    """The entity tables of docs/homeassistant.md, one per group, as this configuration announces them."""
    ha = _catalogue_only(settings)
    root_length = len(ha.root) + 1
    rows: dict[str, list[str]] = {}
    for e in [*ha.entities, *ha.car_entities(0)]:
        c = ha.config(e)
        states = c.get("unit_of_measurement", "")
        if "options" in c:
            states = "one of: " + ", ".join(c["options"]) if len(c["options"]) <= 8 else f"{len(c['options'])} names"
        row = [
            c["name"].replace("Car 0 ", "Car <i> "),
            f"`{e.state_topic[root_length:].replace('cars/0/', 'cars/<i>/')}`",
            e.ha.component,
            states,
            "yes" if c.get("enabled_by_default", True) else "no",
            "game sends" if e.live else "bridge online",
        ]
        rows.setdefault(SCOPE_GROUPS[e.field.scope], []).append("| " + " | ".join(row) + " |")
    out = []
    for group in ("session", "player", "lights", "bridge", "cars"):
        out += [f"**{group}** ({len(rows.get(group, []))} entities)", "",
                "| entity | state topic | component | unit / states | enabled | available while |",
                "|---|---|---|---|---|---|", *rows.get(group, []), ""]
    out += ["**events** (event entities; device triggers for each event type marked *)", "",
            "| entity | state topic | event types |", "|---|---|---|"]
    for ev in GAME_EVENTS:
        types = ", ".join(f"`{t}`" for t in ev.event_types) if len(ev.event_types) <= 16 else \
            f"{len(ev.event_types)} penalty types (`time_penalty`, `drive_through`, `stop_go`, ...)"
        out.append(f"| {ev.name}{' *' if ev.trigger_type else ''} | `ha/event/{ev.key}` | {types} |")
    return "\n".join(out) + "\n"
