"""The schema: one table per section, key -> converter, with the section's cross-field checks.

Adding a section: its dataclass in settings.py (a field of `Settings`), its table here, its rules in rules.py.
"""

from __future__ import annotations

import re

from bridge.config.converters import (
    GLOB_RE,
    boolean,
    choice,
    enum,
    existing_file,
    glob_map,
    host_or_ip,
    hostport,
    integer,
    ip_address,
    network,
    number,
    record_file,
    source,
    string,
    writable_directory,
)
from bridge.config.engine import Section, list_of, optional
from bridge.config.rules import (
    check_cert_pair,
    check_client_tls,
    check_games,
    check_lights,
    check_metrics,
    check_mqtt,
    check_realtime_device,
    check_server_tls,
    check_settings,
    check_udp,
    check_wled,
)
from bridge.games.registry import LIVE
from bridge.settings import (
    HA_GROUPS,
    LOG_LEVELS,
    PUBLISH_CARS,
    REALTIME_PROTOCOLS,
    ExportSettings,
    GamesSettings,
    Gt7Settings,
    HomeAssistantSettings,
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
)

MQTT_FOUR_BYTE_MAX = 2**32 - 1  # MQTT 5 "Four Byte Integer" (message expiry interval)

_TOPIC_RE = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")
_RIG_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_COLOR_RE = re.compile(r"#[0-9A-Fa-f]{6}")
_TOPIC_MESSAGE = (
    "must be topic levels of letters, digits, _ or - separated by single '/' "
    "(no + or # wildcards, no $, no leading or trailing '/')"
)
_GLOB_MESSAGE = (
    "must be a glob over topic paths below <base>/<rig>/, e.g. 'player/*' or 'cars/*/position' "
    "(no + or # wildcards, no leading or trailing '/')"
)
_TRACK_GLOB_MESSAGE = "must be a glob over track names as the topics spell them, e.g. 'austria' or 'silverstone*'"
_PORT = integer(1, 65535)
_FILE = optional(existing_file())
_RATE_HZ = number(0.001, 60)  # from once in 17 minutes to the game's fastest send rate

SCHEMA = Section(
    Settings,
    {
        "udp": Section(
            UdpSettings,
            {
                "bind": ip_address("0.0.0.0 or ::"),
                "port": _PORT,
                "allow_from": list_of(network(), unique=True),
                "forward": list_of(hostport(), unique=True),
                # 1 GiB is far above any buffer the kernel grants (net.core.rmem_max) and fits setsockopt's C int
                "rcvbuf_bytes": integer(65536, 1 << 30),
                # at least a few of the game's slowest send intervals (10 Hz), so pauses are not seen in between
                "receive_timeout_s": number(0.5, 3600),
                "record": optional(record_file()),
                "source": optional(source()),
                "game": enum(("auto", *(game.key for game in LIVE))),
            },
            (check_udp,),
        ),
        "mqtt": Section(
            MqttSettings,
            {
                "host": host_or_ip(),
                "port": _PORT,
                "rig": string("must be 1 to 32 characters from A-Z a-z 0-9 _ -", pattern=_RIG_RE),
                "base_topic": string(_TOPIC_MESSAGE, pattern=_TOPIC_RE),
                "keepalive": integer(5, 3600),
                "protocol": choice(
                    {5: 5, 311: 311, "5": 5, "3.1.1": 311, "311": 311},
                    "must be 5 or 3.1.1 (also accepted: 311)",
                ),
                "client_id": optional(string("must be a string of 1 to 64 characters", max_len=64, mqtt="text")),
                "username": optional(string("must be a non-empty string", mqtt="text")),
                "password": optional(string("must be a non-empty string (quote it)", mqtt="binary", secret=True)),
                "password_file": _FILE,
                "tls": Section(
                    TlsSettings,
                    {"enabled": boolean(), "ca_file": _FILE, "cert_file": _FILE, "key_file": _FILE},
                    (check_cert_pair, check_client_tls),
                ),
                "tls_insecure": boolean(),
                # at most ten attempts a second while the broker is down; an hour between attempts at most
                "reconnect_min_s": number(0.1, 3600),
                "reconnect_max_s": number(0.1, 3600),
            },
            (check_mqtt,),
        ),
        "publish": Section(
            PublishSettings,
            {
                "cars": enum(PUBLISH_CARS),
                "include": list_of(string(_GLOB_MESSAGE, pattern=GLOB_RE)),
                "exclude": list_of(string(_GLOB_MESSAGE, pattern=GLOB_RE)),
                "rates": Section(RateSettings, {name: _RATE_HZ for name in ("fast", "normal", "slow")}),
                "deadbands": glob_map(number(0, 1e9), _GLOB_MESSAGE),  # 1e9: beyond any field's range
                "expiry_s": integer(0, MQTT_FOUR_BYTE_MAX),
                "qos_fast": choice({0: 0, 1: 1}, "must be 0 or 1"),
            },
        ),
        "metrics": Section(
            MetricsSettings,
            {
                "enabled": boolean(),
                "bind": ip_address("127.0.0.1 or ::1"),
                "port": _PORT,
                "tls": Section(
                    MetricsTlsSettings,
                    {"cert_file": _FILE, "key_file": _FILE},
                    (check_cert_pair, check_server_tls),
                ),
            },
            (check_metrics,),
        ),
        "homeassistant": Section(
            HomeAssistantSettings,
            {
                "enabled": boolean(),
                "discovery_prefix": string(_TOPIC_MESSAGE, pattern=_TOPIC_RE),
                "groups": list_of(enum(HA_GROUPS), unique=True),
                # Home Assistant records every state change: 10 Hz per entity is already more than it is built for
                "max_rate_hz": number(0.01, 10),
            },
        ),
        "lights": Section(
            LightsSettings,
            {
                "leds": integer(1, 300),
                "brightness": integer(0, 255),
                "profile": list_of(
                    Section(
                        LedSegment,
                        {
                            "count": integer(1, 300),
                            "color": string('must be a "#rrggbb" color', pattern=_COLOR_RE, transform=str.lower),
                        },
                    ),
                    min_items=1,
                ),
                # LEDs are drawn per packet (60 Hz at most): faster flashing could not be shown
                "limiter_flash_hz": number(0.1, 30),
                "rev_start_pct": number(0, 99),
                "shift_pct": number(1, 100),
                "wled": Section(
                    WledSettings,
                    {"enabled": boolean(), "topics": list_of(string(_TOPIC_MESSAGE, pattern=_TOPIC_RE), unique=True)},
                    (check_wled,),
                ),
                "realtime": list_of(
                    Section(
                        RealtimeDevice,
                        {
                            "target": hostport(),
                            "protocol": enum(REALTIME_PROTOCOLS, fold_case=True),
                            "leds": optional(integer(1, 1024)),
                            "start": integer(0, 8191),
                            "reversed": boolean(),
                            "brightness": integer(0, 255),
                            # 255 would mean "never": a device must fall back by itself if the bridge dies
                            "timeout_s": integer(1, 254),
                            "flags": boolean(),
                        },
                        (check_realtime_device,),
                    ),
                ),
            },
            (check_lights,),
        ),
        "log": Section(LogSettings, {"level": enum(LOG_LEVELS, fold_case=True)}),
        # idle_s: longer than a game's pauses between packets (menus, loading), at most a day
        "export": Section(ExportSettings, {"dir": optional(writable_directory()), "idle_s": number(1, 86400)}),
        "games": Section(
            GamesSettings,
            {"gt7": Section(Gt7Settings, {"console": optional(host_or_ip()), "console_port": _PORT})},
        ),
        # racer's aids (docs/aids.md): the wear limit, and pit-stop time per track (glob over track names: seconds)
        "tyres": Section(TyreSettings, {"wear_limit_pct": number(1, 100)}),
        "pit": Section(PitSettings, {"loss_s": glob_map(number(0, 300), _TRACK_GLOB_MESSAGE)}),
    },
    (check_settings, check_games),
)

