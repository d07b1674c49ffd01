"""Home Assistant MQTT discovery, generated from the field catalogue.

Modules: `entities` (entities, names, discovery payloads), `events` (event entities and device triggers),
`discovery` (the output service), `docs` (recorder exclusions and the entity tables, from a configuration).

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
for many devices, so that a burst (or a flood) of `online` messages costs one round; with it, every entity's
current value again (the broker may have dropped an unchanged retained value at its MQTT 5 expiry). A car slot
that leaves the session has its entities removed with empty retained configs.
"""

from __future__ import annotations

from bridge.publish.homeassistant.discovery import (
    BIRTH,
    REPUBLISH_DELAY_S,
    REPUBLISH_MAX_WAIT_S,
    HomeAssistant,
)
from bridge.publish.homeassistant.docs import entities_markdown, recorder_exclude
from bridge.publish.homeassistant.entities import (
    LIVE_RATES,
    SCOPE_GROUPS,
    STATE_RATE,
    VALUE_TEMPLATE,
    Entity,
    entity_name,
    ha_slug,
)
from bridge.publish.homeassistant.events import GAME_EVENTS, GameEvent

__all__ = [
    "BIRTH",
    "GAME_EVENTS",
    "LIVE_RATES",
    "REPUBLISH_DELAY_S",
    "REPUBLISH_MAX_WAIT_S",
    "SCOPE_GROUPS",
    "STATE_RATE",
    "VALUE_TEMPLATE",
    "Entity",
    "GameEvent",
    "HomeAssistant",
    "entities_markdown",
    "entity_name",
    "ha_slug",
    "recorder_exclude",
]
