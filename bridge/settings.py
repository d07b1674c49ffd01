"""The settings: frozen dataclasses whose field defaults are the only place defaults are written.

Plain data at the bottom of the house: the outputs, the receiver and the games take their section from here, and
only `bridge.config` (which reads and checks a file into these) sits above them.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
from dataclasses import dataclass, field

PUBLISH_CARS = ("all", "player", "none")
HA_GROUPS = ("session", "player", "cars", "lights", "bridge", "events")
LOG_LEVELS = ("debug", "info", "warning", "error")
REALTIME_PROTOCOLS = ("ddp", "dnrgb", "drgb", "warls")
MAX_REALTIME_DEVICES = 16  # each costs one datagram per changed frame on the datagram path
MQTT_PROTOCOLS = {5: "5", 311: "3.1.1"}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def default_rig_name(hostname: str | None = None) -> str:
    """The default `mqtt.rig`: the host name lowercased, other characters than [a-z0-9_-] as '-', at most 32."""
    name = (socket.gethostname() if hostname is None else hostname).lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", name).strip("-")[:32].strip("-")
    return name or "rig"


@dataclass(frozen=True)
class UdpSettings:
    bind: str = "0.0.0.0"
    port: int = 20777
    allow_from: tuple[IPNetwork, ...] = ()
    forward: tuple[tuple[str, int], ...] = ()
    rcvbuf_bytes: int = 4_194_304
    receive_timeout_s: float = 2.0
    record: str | None = None  # append every datagram to this rigbridge capture file while running
    # The one sender to accept when several games send to the port: (IP address, port; 0 = any port).
    # None keeps whichever source came first.
    source: tuple[str, int] | None = None
    game: str = "auto"  # auto: the first game whose signature a datagram matches; or a registry key (f1, forza...)


@dataclass(frozen=True)
class TlsSettings:
    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class MqttSettings:
    host: str = "localhost"
    port: int = 1883
    rig: str = field(default_factory=default_rig_name)
    base_topic: str = "rigbridge"
    keepalive: int = 15
    protocol: int = 5
    client_id: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_file: str | None = None
    tls: TlsSettings = field(default_factory=TlsSettings)
    tls_insecure: bool = False
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        # An empty client_id means "not configured": a fresh one per process, so two bridges never collide.
        if not self.client_id:
            prefix = f"{self.base_topic.replace('/', '-')}-{self.rig}"[:57]
            object.__setattr__(self, "client_id", f"{prefix}-{secrets.token_hex(3)}")

    @property
    def root_topic(self) -> str:
        """`<base_topic>/<rig>`: every topic this bridge publishes lives under it."""
        return f"{self.base_topic}/{self.rig}"


@dataclass(frozen=True)
class RateSettings:
    """Publish rate in Hz per rate class."""

    fast: float = 10.0
    normal: float = 2.0
    slow: float = 0.2

    def __getitem__(self, rate_class: str) -> float:
        if rate_class not in ("fast", "normal", "slow"):
            raise KeyError(rate_class)
        value: float = getattr(self, rate_class)
        return value


@dataclass(frozen=True)
class PublishSettings:
    cars: str = "all"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    rates: RateSettings = field(default_factory=RateSettings)
    deadbands: tuple[tuple[str, float], ...] = ()
    expiry_s: int = 600
    qos_fast: int = 0


@dataclass(frozen=True)
class MetricsTlsSettings:
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None and self.key_file is not None


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = 9464
    tls: MetricsTlsSettings = field(default_factory=MetricsTlsSettings)


@dataclass(frozen=True)
class HomeAssistantSettings:
    enabled: bool = True
    discovery_prefix: str = "homeassistant"
    groups: tuple[str, ...] = ("session", "player", "lights", "bridge")
    max_rate_hz: float = 1.0


@dataclass(frozen=True)
class LedSegment:
    count: int
    color: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        return (int(self.color[1:3], 16), int(self.color[3:5], 16), int(self.color[5:7], 16))


@dataclass(frozen=True)
class WledSettings:
    enabled: bool = False
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class RealtimeDevice:
    """One LED strip (or a segment of one) driven over UDP: DDP or one of WLED's realtime protocols."""

    target: tuple[str, int]
    protocol: str = "ddp"
    leds: int | None = None  # LEDs of this segment; None: lights.leds. The frame is stretched or shrunk to fit
    start: int = 0  # index of the segment's first LED on the strip
    reversed: bool = False  # the frame's first LED at the segment's far end
    brightness: int = 255  # scales the frame (which already has lights.brightness)
    timeout_s: int = 2  # the device's realtime timeout; a keep-alive goes out at a third of it
    flags: bool = False  # while a flag is out (yellow, blue, red, safety car), the segment shows its colour


_DEFAULT_PROFILE_COLORS = ("#00ff00", "#ff0000", "#0000ff")


def _default_profile(leds: int) -> tuple[LedSegment, ...]:
    """Green, red, blue thirds of the strip; the first segments take the remainder."""
    base, extra = divmod(leds, len(_DEFAULT_PROFILE_COLORS))
    counts = [base + (1 if i < extra else 0) for i in range(len(_DEFAULT_PROFILE_COLORS))]
    return tuple(LedSegment(n, color) for n, color in zip(counts, _DEFAULT_PROFILE_COLORS, strict=True) if n > 0)


@dataclass(frozen=True)
class LightsSettings:
    leds: int = 15
    brightness: int = 255
    profile: tuple[LedSegment, ...] = ()  # empty: green/red/blue thirds of `leds`
    limiter_flash_hz: float = 4.0
    # Rev lights from rpm, for games that send no rev lights of their own: the strip starts lighting at
    # rev_start_pct and is full (the shift light) at shift_pct, both of the range from idle to maximum rpm.
    rev_start_pct: float = 60.0
    shift_pct: float = 90.0
    wled: WledSettings = field(default_factory=WledSettings)
    realtime: tuple[RealtimeDevice, ...] = ()

    def __post_init__(self) -> None:
        if not self.profile:
            object.__setattr__(self, "profile", _default_profile(self.leds))


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"


@dataclass(frozen=True)
class ExportSettings:
    dir: str | None = None  # where each session's JSON file goes; None: no export
    idle_s: float = 60.0  # the game silent this long ends the session (its file is written)


@dataclass(frozen=True)
class Gt7Settings:
    console: str | None = None  # the PlayStation's address: rigbridge sends it GT7's heartbeat and receives the game
    console_port: int = 33739  # where the console listens for the heartbeat (the game's fixed port)


@dataclass(frozen=True)
class GamesSettings:
    gt7: Gt7Settings = field(default_factory=Gt7Settings)


@dataclass(frozen=True)
class TyreSettings:
    wear_limit_pct: float = 70.0  # the racer's aids: laps until a wheel's wear reaches this (docs/aids.md)


@dataclass(frozen=True)
class PitSettings:
    # The time a pit stop costs (s) per track, over the shipped table: (glob over track names, seconds), the last
    # match wins (docs/aids.md)
    loss_s: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Settings:
    udp: UdpSettings = field(default_factory=UdpSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    homeassistant: HomeAssistantSettings = field(default_factory=HomeAssistantSettings)
    lights: LightsSettings = field(default_factory=LightsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    games: GamesSettings = field(default_factory=GamesSettings)
    tyres: TyreSettings = field(default_factory=TyreSettings)
    pit: PitSettings = field(default_factory=PitSettings)

    def summary(self) -> str:
        """One line for humans: where telemetry comes from and where it goes."""
        mqtt = self.mqtt
        tls = "TLS" if mqtt.tls.enabled else "no TLS"
        forwards = len(self.udp.forward)
        return (
            f"broker {format_hostport(mqtt.host, mqtt.port)} (MQTT {MQTT_PROTOCOLS[mqtt.protocol]}, {tls}), "
            f"rig {mqtt.rig}, topics {mqtt.root_topic}/..., "
            f"UDP {format_hostport(self.udp.bind, self.udp.port)} "
            f"with {forwards} forward target{'' if forwards == 1 else 's'}"
        )


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

