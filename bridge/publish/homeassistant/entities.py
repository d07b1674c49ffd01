"""Home Assistant entities: one per catalogue field (and per car for per-car fields), their names, ids and
discovery payloads."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from bridge.publish.catalog import Field, Ha
from bridge.publish.homeassistant.events import GAME_EVENTS
from bridge.publish.topics import checked

# The configured group each catalogue scope belongs to.
SCOPE_GROUPS = {"game": "session", "session": "session", "player": "player", "car": "cars", "lights": "lights",
                "bridge": "bridge"}
STATE_RATE = "homeassistant"  # rate label of the rate-limited state messages (metrics count them under it)
LIVE_RATES = frozenset({"realtime", "fast", "normal"})  # values that only hold while the game sends
# The empty payload (a cleared topic) renders None, which Home Assistant shows as unknown.
VALUE_TEMPLATE = "{{ value if value else None }}"
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


def support_url() -> str | None:
    """The project URL from the installed package metadata, when the package declares one."""
    try:
        meta = metadata.metadata("rigbridge")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or ():
        _, _, url = str(entry).partition(",")
        if url.strip():
            return url.strip()
    home = meta.get_all("Home-page") or ()
    return str(home[0]) if home else None


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


@dataclass
class Announcer:
    """What every discovery payload of one rig shares: where configs go, the device, availability."""

    prefix: str  # homeassistant.discovery_prefix
    rig: str
    status: list[dict[str, str]]  # available while the bridge is online
    live: list[dict[str, str]]  # ... and the game sends
    device: dict[str, Any]  # its model follows the running game
    origin: dict[str, str]

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
        entity_id = _ENTITY_ID_UNSAFE.sub("_", f"rigbridge_{self.rig}_{object_id}".lower())
        config: dict[str, Any] = {
            "name": self.display_name(e),
            "unique_id": f"rigbridge_{self.rig}_{object_id}",
            "default_entity_id": f"{ha.component}.{entity_id}",
            "state_topic": e.state_topic,
            "value_template": VALUE_TEMPLATE,
            "availability": self.live if e.live else self.status,
            "availability_mode": "all",
            "device": self.device,
            "origin": self.origin,
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

    def event_configs(self, event_topics: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
        """Config topic and payload of every event entity and device trigger (group `events`)."""
        out: list[tuple[str, dict[str, Any]]] = []
        for ev in GAME_EVENTS:
            object_id = f"event_{ev.key}"
            topic = event_topics[ev.key]
            entity: dict[str, Any] = {
                "name": ev.name,
                "unique_id": f"rigbridge_{self.rig}_{object_id}",
                "default_entity_id": "event." + _ENTITY_ID_UNSAFE.sub("_", f"rigbridge_{self.rig}_{object_id}".lower()),
                "state_topic": topic,
                "event_types": list(ev.event_types),
                "availability": self.status,
                "availability_mode": "all",
                "device": self.device,
                "origin": self.origin,
                "icon": ev.icon,
                "qos": 1,
            }
            if ev.device_class:
                entity["device_class"] = ev.device_class
            out.append((checked(f"{self.prefix}/event/{self.rig}/{object_id}/config"), entity))
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
                    "device": self.device,
                }
                out.append((checked(f"{self.prefix}/device_automation/{self.rig}/{object_id}_{event_type}/config"),
                            trigger))
        return out
