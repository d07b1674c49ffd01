"""Configuration: one YAML file becomes frozen, typed settings, and every problem in it is reported at once.

The file is composed into a YAML node tree (not constructed), so each value keeps its line number and duplicate
keys can be reported next to every other problem instead of aborting the load. Each section is described by a
small table, key -> converter; the defaults are the dataclass field defaults, so they exist in one place only.
A converter either returns the typed value or records a `Problem` and returns `INVALID`; cross-field rules run
per section afterwards and skip values that were already invalid, so one mistake gives one message.

The modules, in the order a load uses them:
- problems.py: `Problem`, `ConfigError`.
- settings.py: the settings dataclasses (the defaults) and the constants their values are drawn from.
- context.py: the state of one load (problems, key lines, invalid keys) and the YAML node helpers.
- engine.py: the converter protocol and the structures: optional, list, section.
- converters.py: the value converters (bounded numbers, MQTT strings, addresses, file paths, glob maps).
- rules.py: cross-field rules, run on each built section.
- schema.py: one table per section, key -> converter, with its rules.
- entry.py: `load_settings`, `default_settings`, `check_config_main`.
"""

from __future__ import annotations

# The standard modules the loader consults (os.access, socket.gethostname), as tests patch them through here.
import os as os
import socket as socket

from bridge.config.context import MAX_DEPTH
from bridge.config.converters import MQTT_STRING_MAX
from bridge.config.engine import Check, Converter, Section
from bridge.config.entry import (
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    check_config_main,
    default_settings,
    load_settings,
    load_text,
)
from bridge.config.problems import NO_VALUE, ConfigError, Problem
from bridge.config.rules import ENV_PASSWORD, ENV_USERNAME
from bridge.config.schema import MQTT_FOUR_BYTE_MAX, SCHEMA
from bridge.net import parse_hostport
from bridge.settings import (
    HA_GROUPS,
    LOG_LEVELS,
    MAX_REALTIME_DEVICES,
    MQTT_PROTOCOLS,
    PUBLISH_CARS,
    REALTIME_PROTOCOLS,
    ExportSettings,
    HomeAssistantSettings,
    IPNetwork,
    LedSegment,
    LightsSettings,
    LogSettings,
    MetricsSettings,
    MetricsTlsSettings,
    MqttSettings,
    PitSettings,
    PublishSettings,
    RateSettings,
    RealtimeDevice,
    Settings,
    TlsSettings,
    TyreSettings,
    UdpSettings,
    WledSettings,
    default_rig_name,
)

__all__ = [
    "ENV_PASSWORD",
    "ENV_USERNAME",
    "HA_GROUPS",
    "LOG_LEVELS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "MAX_REALTIME_DEVICES",
    "MQTT_FOUR_BYTE_MAX",
    "MQTT_PROTOCOLS",
    "MQTT_STRING_MAX",
    "NO_VALUE",
    "PUBLISH_CARS",
    "REALTIME_PROTOCOLS",
    "SCHEMA",
    "Check",
    "ConfigError",
    "Converter",
    "ExportSettings",
    "HomeAssistantSettings",
    "IPNetwork",
    "LedSegment",
    "LightsSettings",
    "LogSettings",
    "MetricsSettings",
    "MetricsTlsSettings",
    "MqttSettings",
    "PitSettings",
    "Problem",
    "PublishSettings",
    "RateSettings",
    "RealtimeDevice",
    "Section",
    "Settings",
    "TlsSettings",
    "TyreSettings",
    "UdpSettings",
    "WledSettings",
    "check_config_main",
    "default_rig_name",
    "default_settings",
    "load_settings",
    "parse_hostport",
]

# Spellings from when the package was one module (the capture recorder and the tests use them).
_parse_hostport = parse_hostport
_Section = Section
_SCHEMA = SCHEMA
_load = load_text
