"""Home Assistant MQTT discovery, generated from the field catalogue.

One device per rig (`identifiers: ["rigbridge_<rig>"]`) holds one sensor or binary sensor per catalogue field that
has Home Assistant metadata (`Field.ha`), in the groups `homeassistant.groups` names and allowed by the include and
exclude globs. Each entity's config goes to `<prefix>/<component>/<rig>/<object_id>/config` (retained, QoS 1),
where `<object_id>` is the topic path with `/` as `_`; its `unique_id` is `rigbridge_<rig>_<object_id>`, so it
is the same in every run of the same rig.

Rate limit: Home Assistant records every state change it receives, so an entity must not change more often than
`homeassistant.max_rate_hz`. Fields whose rate class is faster than that (realtime, and fast or normal when their
configured rate is above it) get their own state topic, `<root>/ha/<path>`, which this reader feeds from the
state at most `max_rate_hz` times per second, change-only; slower fields (on-change, slow) point at their main
topic. Every entity is available while the bridge is online (`<root>/status`) and, except bridge health,
while the game sends telemetry (`<root>/game/receiving`).

Discovery is published after every (re)connect and whenever Home Assistant announces itself online on
`<prefix>/status`. A car slot that leaves the session has its entities removed with empty retained configs.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from bridge import __version__
from bridge.config import Settings
from bridge.publish.catalog import CAR_FIELDS, CATALOG, Field, Ha
from bridge.publish.engine import Message, PublishEngine
from bridge.publish.topics import checked, segment

# The configured group each catalogue scope belongs to.
SCOPE_GROUPS = {"game": "session", "session": "session", "player": "player", "car": "cars", "lights": "lights",
                "bridge": "bridge"}
STATE_RATE = "homeassistant"  # rate label of the rate-limited state messages (metrics count them under it)
# Live streams (not retained) go unavailable in Home Assistant when they have not changed for this long.
EXPIRE_AFTER_S = 600
_CAR_GROUP = re.compile(r"cars\[\d+\]\.(\w+)")
_ENTITY_ID_UNSAFE = re.compile(r"[^a-z0-9_]+")
_UNIT_SUFFIXES = {"c", "ms", "kph", "pct", "psi", "kg", "j", "s", "m"}
_UPPER = {"fl", "fr", "rl", "rr", "drs", "ers", "rpm", "fia"}

# Per-car entities take the Home Assistant metadata of the car field they come from.
_CAR_HA: dict[str, Ha] = {f"cars/{{car}}/{d.path}": d.ha for d in CAR_FIELDS if d.ha is not None}


@dataclass(frozen=True, slots=True)
class Entity:
    field: Field
    ha: Ha
    car: int | None
    relative: str  # the field's topic path below <root>
    config_topic: str
    state_topic: str
    limited: bool  # state fed by this reader on <root>/ha/<path>


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
    if parts[0] == "player":
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
    words = [w.upper() if w in _UPPER else w for w in words]
    text = prefix + " ".join(words)
    return text[:1].upper() + text[1:]


class HomeAssistant:
    """The discovery reader: configs on connect and on Home Assistant's birth message, rate-limited states."""

    def __init__(
        self,
        settings: Settings,
        engine: PublishEngine,
        view: Any,
        *,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        ha = settings.homeassistant
        self._engine = engine
        self._view = view
        self._wake = wake
        self._prefix = ha.discovery_prefix
        self._rig = segment(settings.mqtt.rig)
        self._root = engine.root
        self._groups = set(ha.groups)
        self._period = 1.0 / ha.max_rate_hz
        self._expire_after = max(EXPIRE_AFTER_S, math.ceil(3 * self._period))
        rates = settings.publish.rates
        self._rate_hz = {"realtime": math.inf, "on_change": 0.0, **{r: rates[r] for r in ("fast", "normal", "slow")}}
        self._max_rate = ha.max_rate_hz
        self._cars_mode = settings.publish.cars
        self._expiry = settings.publish.expiry_s > 0 and settings.mqtt.protocol == 5
        self.status_topic = f"{ha.discovery_prefix}/status"
        self.subscriptions: tuple[str, ...] = (self.status_topic,)
        self._status = [{"topic": f"{self._root}/status", "payload_available": "online",
                         "payload_not_available": "offline"}]
        receiving = [{"topic": f"{self._root}/game/receiving", "payload_available": "true",
                      "payload_not_available": "false"}] if engine.allowed("game/receiving") else []
        self._live = self._status + receiving
        self._device = {
            "identifiers": [f"rigbridge_{self._rig}"],
            "name": f"rigbridge {self._rig}",
            "manufacturer": "rigbridge",
            "model": "F1 telemetry bridge",
            "sw_version": __version__,
        }
        self._origin: dict[str, str] = {"name": "rigbridge", "sw_version": __version__}
        url = _support_url()
        if url:
            self._origin["support_url"] = url
        # Entities of the player, session, lights and bridge: fixed for the run.
        self._fixed: list[Entity] = [
            self._entity(f, f.ha, None) for f in CATALOG
            if f.scope != "car" and f.ha is not None and self._wanted(f, f.path)
        ]
        # Entities of the catalogue left out by the settings: cleared on connect, so that shrinking the groups or
        # excluding topics removes what an earlier run announced.
        self._left_out = [
            self._entity(f, f.ha, None).config_topic for f in CATALOG
            if f.scope != "car" and f.ha is not None and not self._wanted(f, f.path)
        ]
        # Per-car templates; entities are made for the active cars.
        self._car_fields: list[tuple[Field, Ha]] = []
        if "cars" in self._groups and self._cars_mode == "all":
            self._car_fields = [(f, _CAR_HA[f.path]) for f in CATALOG if f.scope == "car" and f.path in _CAR_HA]
        self._cars: dict[int, list[Entity]] = {}
        self._announced_cars: set[int] = set()  # every car slot that had entities in this run
        self._entities: list[Entity] = []
        self._limited: list[Entity] = []
        self._rebuild()
        self._last: dict[str, str] = {}  # state topic -> payload last offered
        self._dirty: set[str] = set()
        self._everything = True
        self._player_index: int | None = None
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------------------------------ entities

    def _wanted(self, f: Field, relative: str) -> bool:
        if SCOPE_GROUPS.get(f.scope) not in self._groups:
            return False
        if f.scope == "player" and self._cars_mode not in ("all", "player"):
            return False
        if f.scope == "car" and self._cars_mode != "all":
            return False
        return self._engine.allowed(relative)

    def _entity(self, f: Field, ha: Ha, car: int | None) -> Entity:
        relative = f.topic(car)
        object_id = relative.replace("/", "_")
        limited = self._rate_hz[f.rate] > self._max_rate
        return Entity(
            field=f,
            ha=ha,
            car=car,
            relative=relative,
            config_topic=checked(f"{self._prefix}/{ha.component}/{self._rig}/{object_id}/config"),
            state_topic=checked(f"{self._root}/ha/{relative}" if limited else f"{self._root}/{relative}"),
            limited=limited,
        )

    def _rebuild(self) -> None:
        self._entities = [*self._fixed, *(e for car in sorted(self._cars) for e in self._cars[car])]
        self._limited = [e for e in self._entities if e.limited]

    @property
    def entities(self) -> list[Entity]:
        return list(self._entities)

    def config(self, e: Entity) -> dict[str, Any]:
        """The discovery payload of one entity."""
        f, ha = e.field, e.ha
        object_id = e.relative.replace("/", "_")
        entity_id = _ENTITY_ID_UNSAFE.sub("_", f"rigbridge_{self._rig}_{object_id}".lower())
        config: dict[str, Any] = {
            "name": entity_name(e.relative),
            "unique_id": f"rigbridge_{self._rig}_{object_id}",
            "default_entity_id": f"{ha.component}.{entity_id}",
            "state_topic": e.state_topic,
            "availability": self._status if ha.diagnostic else self._live,
            "availability_mode": "all",
            "device": self._device,
            "origin": self._origin,
        }
        if ha.component == "binary_sensor":
            config["payload_on"] = "true"
            config["payload_off"] = "false"
        if ha.device_class:
            device_class = ha.device_class
            if device_class == "energy" and ha.state_class == "measurement":
                device_class = "energy_storage"  # Home Assistant's class for a stored amount (total for "energy")
            config["device_class"] = device_class
        if ha.component == "sensor":
            if ha.state_class:
                config["state_class"] = ha.state_class
            numeric_unit = ha.unit or (f.unit if ha.device_class is None else None)
            if numeric_unit and f.kind in ("int", "float") and ha.device_class != "enum":
                config["unit_of_measurement"] = numeric_unit
            if f.kind in ("int", "float") and ha.device_class != "enum":
                config["suggested_display_precision"] = f.precision if f.kind == "float" else 0
        if e.limited and not f.retain:
            config["expire_after"] = self._expire_after
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

    def _offer_config(self, e: Entity) -> None:
        payload = json.dumps(self.config(e), separators=(",", ":"), ensure_ascii=False)
        self._engine.offer_message(Message(e.config_topic, payload, 1, True, "discovery"))

    def _remove(self, e: Entity) -> None:
        self._engine.offer_message(Message(e.config_topic, "", 1, True, "discovery"))
        if e.limited:
            self._last.pop(e.state_topic, None)
            if e.field.retain:
                self._engine.offer_message(Message(e.state_topic, "", 1, True, "clear"))

    def publish_discovery(self) -> None:
        """Every current entity's config."""
        for e in self._entities:
            self._offer_config(e)
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
            self._cars[car] = [
                self._entity(f, ha, car) for f, ha in self._car_fields if self._wanted(f, f.topic(car))
            ]
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
            for f, ha in self._car_fields:
                if self._wanted(f, f.topic(car)):
                    self._engine.offer_message(Message(self._entity(f, ha, car).config_topic, "", 1, True, "discovery"))

    # ------------------------------------------------------------------------------------------ states

    def _subject(self, e: Entity) -> Any:
        scope = e.field.scope
        if scope == "player":
            return self._view.player
        if scope == "car":
            return self._view.car(e.car)
        return self._engine.context

    def _feed(self, entities: Iterable[Entity]) -> bool:
        offered = False
        last = self._last
        for e in entities:
            subject = self._subject(e)
            if subject is None:
                continue
            f = e.field
            value = f.read(subject)
            payload = f.render(value)
            if payload is None or last.get(e.state_topic) == payload:
                continue
            last[e.state_topic] = payload
            self._engine.offer_message(
                Message(e.state_topic, payload, 0, f.retain, STATE_RATE, f.numeric(value), f.retain and self._expiry)
            )
            offered = True
        return offered

    def flush(self) -> None:
        """Offer the rate-limited states that changed since the last turn (at most one per entity)."""
        player_index = self._view.player_index
        everything = self._everything or player_index != self._player_index
        self._everything = False
        self._player_index = player_index
        dirty, self._dirty = self._dirty, set()
        due = [
            e for e in self._limited
            if everything or e.field.group in dirty or e.field.scope in ("game", "bridge")
        ]
        if self._feed(due):
            self._wake()

    def _tick(self) -> None:
        self._timer = None
        self.flush()
        self._schedule()

    def _schedule(self) -> None:
        if not self._limited and not self._car_fields:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not on an event loop (direct use): call flush() yourself
        self._timer = loop.call_later(self._period, self._tick)

    # ------------------------------------------------------------------------------------------ Reader

    def on_packet(self, changed: set[str]) -> None:
        if "active" in changed or "session.reset" in changed:
            self._sync_cars()
        if "session.reset" in changed:
            self._everything = True
        dirty = self._dirty
        for group in changed:
            if group.startswith("cars["):
                m = _CAR_GROUP.fullmatch(group)
                if m is not None:
                    dirty.add(m.group(1))
            else:
                dirty.add(group)

    def on_connect(self) -> None:
        """After every (re)connect: the broker may have lost everything, so all configs and states again."""
        self._sync_cars()
        self._withdraw_cars()
        for topic in self._left_out:
            self._engine.offer_message(Message(topic, "", 1, True, "discovery"))
        self.publish_discovery()
        self._last.clear()
        self._everything = True
        self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._schedule()

    def on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.status_topic and payload.strip().lower() == b"online":
            self.publish_discovery()
