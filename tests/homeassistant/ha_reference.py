"""What Home Assistant accepts in MQTT discovery, as tables the tests check discovery payloads against.

Sources (Home Assistant core, `dev` branch, 2025):
- `homeassistant/components/sensor/const.py`: `SensorDeviceClass`, `DEVICE_CLASS_UNITS` (the units each sensor
  device class accepts), `DEVICE_CLASS_STATE_CLASSES` (the state classes each device class accepts),
  `NON_NUMERIC_DEVICE_CLASSES`; user docs https://www.home-assistant.io/integrations/sensor/#device-class
- `homeassistant/const.py`: the unit strings (`UnitOfTemperature`, `UnitOfPressure`, `UnitOfSpeed`, ...).
- `homeassistant/components/binary_sensor/__init__.py`: `BinarySensorDeviceClass`;
  https://www.home-assistant.io/integrations/binary_sensor/#device-class
- `homeassistant/components/mqtt/sensor.py` (`validate_sensor_state_and_device_class_config`) and
  https://www.home-assistant.io/integrations/sensor.mqtt/ , .../binary_sensor.mqtt/ : the MQTT config keys.
- `homeassistant/components/mqtt/sensor.py` (2025.4, unchanged through 2026.2): `MqttSensor._update_state` ignores
  an empty payload on numeric sensors, sets text sensors to `''`, sets any sensor to unknown on the payload `None`
  (`PAYLOAD_NONE`, `components/mqtt/const.py`), and ignores (with a warning) an enum state not in `options`;
  `validate_sensor_state_and_device_class_config`: `options` only with device class `enum`, never empty, never
  with a state class or unit. `binary_sensor.py`: `None` sets unknown, any other payload but on/off is ignored.
- `homeassistant/components/mqtt/event.py` (since 2023.8): `state_topic`, `event_types` (required); the JSON
  payload's `event_type` must be one of them; retained replays are dropped.
- `homeassistant/components/mqtt/device_trigger.py` (`TRIGGER_DISCOVERY_SCHEMA`, 2024-2026): `automation_type`,
  `device`, `topic`, `type`, `subtype` required; `payload`, `value_template`, `qos` optional; other keys removed.
- `default_entity_id` replaces the deprecated `object_id` since Home Assistant 2025.10 (object_id stops working
  in 2026.4): home-assistant/core `components/mqtt/entity.py`.

Only the device classes a telemetry bridge could plausibly use are listed; a class missing here fails the test
and must be added from the sources above, not guessed.
"""

from __future__ import annotations

STATE_CLASSES = {"measurement", "total", "total_increasing"}
_ALL_STATE_CLASSES = STATE_CLASSES
# Non-numeric sensor device classes: no unit, no state class.
NON_NUMERIC = {"enum", "date", "timestamp"}

TEMPERATURE = {"°C", "°F", "K"}
PRESSURE = {"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "inH₂O", "psi"}
SPEED = {"Beaufort", "ft/s", "in/s", "km/h", "kn", "m/s", "mph", "mm/s", "in/d", "in/h", "mm/d", "mm/h"}
DURATION = {"d", "h", "min", "s", "ms"}
DISTANCE = {"mm", "cm", "m", "km", "in", "ft", "yd", "mi", "nmi"}
WEIGHT = {"µg", "mg", "g", "kg", "oz", "lb", "st"}
ENERGY = {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"}
POWER = {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"}
FREQUENCY = {"Hz", "kHz", "MHz", "GHz"}

# device class -> (accepted units (None: no unit), accepted state classes (None: no state class))
SENSOR_DEVICE_CLASSES: dict[str, tuple[set[str | None], set[str | None]]] = {
    "temperature": (TEMPERATURE, {"measurement"}),
    "pressure": (PRESSURE, {"measurement"}),
    "speed": (SPEED, {"measurement"}),
    "duration": (DURATION, {*_ALL_STATE_CLASSES, None}),
    "distance": (DISTANCE, {*_ALL_STATE_CLASSES, None}),
    "weight": (WEIGHT, {"measurement", "total", "total_increasing", None}),
    "energy": (ENERGY, {"total", "total_increasing", None}),
    "energy_storage": (ENERGY, {"measurement", None}),
    "power": (POWER, {"measurement", None}),
    "frequency": (FREQUENCY, {"measurement", None}),
    "battery": ({"%"}, {"measurement", None}),
    "humidity": ({"%"}, {"measurement", None}),
    "enum": ({None}, {None}),
    "timestamp": ({None}, {None}),
    "date": ({None}, {None}),
}

BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat",
    "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem",
    "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window",
}  # fmt: skip

ENTITY_CATEGORIES = {"config", "diagnostic"}

# Keys every entity must carry, and the ones that only some carry (anything else is a typo or unsupported).
REQUIRED = {"name", "unique_id", "default_entity_id", "state_topic", "availability", "availability_mode",
            "device", "origin"}
OPTIONAL = {"device_class", "state_class", "unit_of_measurement", "suggested_display_precision", "expire_after",
            "entity_category", "enabled_by_default", "icon", "qos", "payload_on", "payload_off", "value_template",
            "options", "event_types"}
EVENT_DEVICE_CLASSES = {"button", "doorbell", "motion"}
TRIGGER_REQUIRED = {"automation_type", "device", "topic", "type", "subtype"}
TRIGGER_OPTIONAL = {"payload", "value_template", "qos"}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}


def problems(component: str, config: dict) -> list[str]:
    """Everything in one entity config that Home Assistant would reject or warn about."""
    out = []
    keys = set(config)
    if missing := REQUIRED - keys:
        out.append(f"missing keys {sorted(missing)}")
    if unknown := keys - REQUIRED - OPTIONAL:
        out.append(f"unknown keys {sorted(unknown)}")
    if "object_id" in config:
        out.append("deprecated object_id")
    if not set(config.get("device", {})) >= {"identifiers", "name"} or set(config.get("device", {})) - DEVICE_KEYS:
        out.append(f"device keys {sorted(config.get('device', {}))}")
    if not {"name"} <= set(config.get("origin", {})) <= ORIGIN_KEYS:
        out.append(f"origin keys {sorted(config.get('origin', {}))}")
    if config.get("availability_mode") not in ("all", "any", "latest"):
        out.append("availability_mode")
    for a in config.get("availability", []):
        if set(a) != {"topic", "payload_available", "payload_not_available"}:
            out.append(f"availability entry {a}")
    device_class = config.get("device_class")
    unit = config.get("unit_of_measurement")
    state_class = config.get("state_class")
    if config.get("options") is not None:
        options = config["options"]
        if not options or config.get("device_class") != "enum" or "state_class" in config or \
                "unit_of_measurement" in config or len(set(options)) != len(options):
            out.append("options need device class enum, no state class or unit, distinct values")
    if component == "event":
        if not config.get("event_types") or not all(isinstance(t, str) and t for t in config["event_types"]):
            out.append("event entity without event_types")
        if config.get("device_class") not in (None, *EVENT_DEVICE_CLASSES):
            out.append(f"event device class {config.get('device_class')}")
        if keys & {"unit_of_measurement", "state_class", "options", "payload_on", "payload_off"}:
            out.append("sensor keys on an event entity")
    elif component == "binary_sensor":
        if device_class is not None and device_class not in BINARY_SENSOR_DEVICE_CLASSES:
            out.append(f"binary_sensor device class {device_class}")
        if unit is not None or state_class is not None or "suggested_display_precision" in config:
            out.append("binary_sensor with unit, state class or precision")
        if (config.get("payload_on"), config.get("payload_off")) != ("true", "false"):
            out.append("binary_sensor payloads")
    elif component == "sensor":
        if state_class is not None and state_class not in STATE_CLASSES:
            out.append(f"state class {state_class}")
        if device_class is not None:
            if device_class not in SENSOR_DEVICE_CLASSES:
                out.append(f"sensor device class {device_class} not in the reference table")
            else:
                units, state_classes = SENSOR_DEVICE_CLASSES[device_class]
                if unit not in units:
                    out.append(f"unit {unit!r} not accepted for device class {device_class}")
                if state_class not in state_classes:
                    out.append(f"state class {state_class} not accepted for device class {device_class}")
        if device_class in NON_NUMERIC and "suggested_display_precision" in config:
            out.append("precision on a non-numeric sensor")
        if "payload_on" in config or "payload_off" in config:
            out.append("payload_on/off on a sensor")
    else:
        out.append(f"component {component}")
    precision = config.get("suggested_display_precision")
    if precision is not None and not (isinstance(precision, int) and precision >= 0):
        out.append("suggested_display_precision must be a non-negative int")
    expire = config.get("expire_after")
    if expire is not None and not (isinstance(expire, int) and expire > 0):
        out.append("expire_after must be a positive int")
    if config.get("entity_category") not in (None, *ENTITY_CATEGORIES):
        out.append("entity_category")
    if "enabled_by_default" in config and not isinstance(config["enabled_by_default"], bool):
        out.append("enabled_by_default must be a bool")
    entity_id = config.get("default_entity_id", "")
    domain, _, object_id = entity_id.partition(".")
    if domain != component or not object_id or not all(c.islower() or c.isdigit() or c == "_" for c in object_id):
        out.append(f"default_entity_id {entity_id!r}")
    return out


def trigger_problems(config: dict) -> list[str]:
    """Everything in one device trigger config that Home Assistant's TRIGGER_DISCOVERY_SCHEMA would reject."""
    out = []
    keys = set(config)
    if missing := TRIGGER_REQUIRED - keys:
        out.append(f"missing keys {sorted(missing)}")
    if unknown := keys - TRIGGER_REQUIRED - TRIGGER_OPTIONAL:
        out.append(f"unknown keys {sorted(unknown)}")
    if config.get("automation_type") != "trigger":
        out.append("automation_type")
    if not all(isinstance(config.get(k), str) and config.get(k) for k in ("topic", "type", "subtype")):
        out.append("topic, type and subtype must be strings")
    if not set(config.get("device", {})) >= {"identifiers"}:
        out.append("device without identifiers")
    return out
