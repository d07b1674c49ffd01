"""Configuration: one YAML file becomes frozen, typed settings, and every problem in it is reported at once.

The file is composed into a YAML node tree (not constructed), so each value keeps its line number and duplicate
keys can be reported next to every other problem instead of aborting the load. Each section is described by a
small table, key -> converter; the defaults are the dataclass field defaults, so they exist in one place only.
A converter either returns the typed value or records a `Problem` and returns `_INVALID`; cross-field rules run
per section afterwards and skip values that were already invalid, so one mistake gives one message.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import ipaddress
import math
import os
import re
import secrets
import socket
import ssl
import stat
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from bridge.games.registry import LIVE
from bridge.ingest.capture import check_capture_file
from bridge.ingest.targets import MAX_FORWARD_TARGETS, plain_address, self_loop_problems
from bridge.publish.catalog import CATALOG
from bridge.publish.topics import MAX_TOPIC, TopicError, checked

__all__ = [
    "HA_GROUPS",
    "LOG_LEVELS",
    "NO_VALUE",
    "PUBLISH_CARS",
    "ConfigError",
    "HomeAssistantSettings",
    "LedSegment",
    "LightsSettings",
    "LogSettings",
    "MetricsSettings",
    "MetricsTlsSettings",
    "MqttSettings",
    "Problem",
    "PublishSettings",
    "RateSettings",
    "RealtimeDevice",
    "Settings",
    "TlsSettings",
    "UdpSettings",
    "WledSettings",
    "check_config_main",
    "default_rig_name",
    "default_settings",
    "load_settings",
]

ENV_USERNAME = "RIGBRIDGE_MQTT_USERNAME"
ENV_PASSWORD = "RIGBRIDGE_MQTT_PASSWORD"

PUBLISH_CARS = ("all", "player", "none")
HA_GROUPS = ("session", "player", "cars", "lights", "bridge", "events")
LOG_LEVELS = ("debug", "info", "warning", "error")
REALTIME_PROTOCOLS = ("ddp", "dnrgb", "drgb", "warls")
MAX_REALTIME_DEVICES = 16  # each costs one datagram per changed frame on the datagram path
MQTT_PROTOCOLS = {5: "5", 311: "3.1.1"}

_TOPIC_RE = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")
_GLOB_RE = re.compile(r"[A-Za-z0-9_\-*?\[\]!]+(?:/[A-Za-z0-9_\-*?\[\]!]+)*")
_RIG_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_COLOR_RE = re.compile(r"#[0-9A-Fa-f]{6}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_FILE_BYTES = 1 << 20  # a full config is a few KiB; reading stops here, so /dev/zero ends at once
MAX_PROBLEMS = 100  # reported per load; the count of the rest is the last line
MAX_DEPTH = 32  # the schema nests 4 levels; the bound keeps a hostile file from exhausting the stack
MQTT_STRING_MAX = 65_535  # bytes: MQTT strings and binary data carry a two-byte length
MQTT_FOUR_BYTE_MAX = 2**32 - 1  # MQTT 5 "Four Byte Integer" (message expiry interval)
# Characters MQTT forbids (U+0000, surrogates) or says must not be used (other control characters).
_MQTT_FORBIDDEN_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


# --------------------------------------------------------------------------------------------------- problems


class _NoValue:
    """Marks a problem that has no offending value to show (unknown key, duplicate key, cross-field rule)."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()


class _Shape:
    """Stands in for a mapping or list value in a problem: rendered as `a mapping`, not as its whole content."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shape) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file: `file:line: key.path: message (got value)`; line is 1-based."""

    file: str
    line: int
    key: str
    message: str
    value: object = NO_VALUE

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: {self.key}: {self.message}"
        if self.value is not NO_VALUE:
            text += f" (got {_short_repr(self.value)})"
        return text


class ConfigError(Exception):
    """Raised by `load_settings` with every problem found; `str()` gives one problem per line, in line order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


# --------------------------------------------------------------------------------------------------- settings


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
class Settings:
    udp: UdpSettings = field(default_factory=UdpSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    homeassistant: HomeAssistantSettings = field(default_factory=HomeAssistantSettings)
    lights: LightsSettings = field(default_factory=LightsSettings)
    log: LogSettings = field(default_factory=LogSettings)

    def summary(self) -> str:
        """One line for humans: where telemetry comes from and where it goes."""
        mqtt = self.mqtt
        tls = "TLS" if mqtt.tls.enabled else "no TLS"
        forwards = len(self.udp.forward)
        return (
            f"broker {_format_hostport(mqtt.host, mqtt.port)} (MQTT {MQTT_PROTOCOLS[mqtt.protocol]}, {tls}), "
            f"rig {mqtt.rig}, topics {mqtt.root_topic}/..., "
            f"UDP {_format_hostport(self.udp.bind, self.udp.port)} "
            f"with {forwards} forward target{'' if forwards == 1 else 's'}"
        )


def _format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------------------------------- loading context


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_INVALID: Any = _Sentinel("_INVALID")  # the value had a problem, already recorded
_DEFAULT: Any = _Sentinel("_DEFAULT")  # null where a default is fine: keep the dataclass default

_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CORE_TAG_PREFIX = "tag:yaml.org,2002:"


class _Ctx:
    """State of one load: where problems go, the line of every key seen, which values were invalid."""

    def __init__(self, file: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.env = env
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.invalid: set[str] = set()
        self._yaml = YAML(typ="safe", pure=True)

    def add(self, path: str, message: str, value: object = NO_VALUE, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, line or self.line_of(path), path or "<file>", message, value))

    def line_of(self, path: str) -> int:
        """Line of `path`, else of its nearest enclosing key that appears in the file, else 1."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = _parent(path)
        return 1

    def given(self, path: str) -> bool:
        return path in self.lines

    def ok(self, *paths: str) -> bool:
        return not any(path in self.invalid for path in paths)

    def compose(self, text: str) -> Node | None:
        """The node tree, or None with a problem when the file nests deeper than `MAX_DEPTH`.

        The depth is counted over the event stream first (the parser is iterative), because composing is
        recursive and a file nested a few hundred levels deep would otherwise exhaust the stack.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            depth = 0
            for event in self._yaml.parse(text):
                if isinstance(event, CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        line = int(event.start_mark.line) + 1
                        self.add("", f"nested deeper than {MAX_DEPTH} levels", line=line)
                        return None
                elif isinstance(event, CollectionEndEvent):
                    depth -= 1
            return self._yaml.compose(text)  # type: ignore[no-any-return]

    def construct(self, node: ScalarNode) -> Any:
        return self._yaml.constructor.construct_object(node, deep=True)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _parent(path: str) -> str:
    if path.endswith("]") and "[" in path:
        return path[: path.rindex("[")]
    return path.rsplit(".", 1)[0] if "." in path else ""


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG)


def _plain(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
    """The Python value of a scalar node; a `_Shape` for a mapping or list; `_INVALID` for an unknown tag."""
    if node is None:
        return None
    if isinstance(node, MappingNode):
        return _Shape("a mapping")
    if isinstance(node, SequenceNode):
        return _Shape("a list")
    if not str(node.tag).startswith(_CORE_TAG_PREFIX):
        ctx.add(path, f"unsupported YAML tag {node.tag}", line=line)
        return _INVALID
    try:
        return ctx.construct(node)
    except YAMLError as exc:
        ctx.add(path, f"unreadable value: {getattr(exc, 'problem', None) or type(exc).__name__}", line=line)
        return _INVALID
    except (ValueError, OverflowError) as exc:  # e.g. a 5,000-digit integer, month 13 in a date, '!!float foo'
        ctx.add(path, f"unreadable value: {exc}", node.value, line)
        return _INVALID


def _iter_mapping(ctx: _Ctx, node: MappingNode, path: str) -> Iterator[tuple[str, int, Node]]:
    """(key, key line, value node) per entry; merge keys, non-string keys and repeats are reported and skipped."""
    first_line: dict[str, int] = {}
    for key_node, value_node in node.value:
        key_line = _line(key_node)
        if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE_TAG:
            ctx.add(_join(path, "<<"), "merge keys (<<) are not supported; write the keys out", line=key_line)
            continue
        if not isinstance(key_node, ScalarNode):
            ctx.add(_join(path, "?"), "keys must be plain strings", _plain(ctx, key_node, path, key_line), key_line)
            continue
        name = str(key_node.value)
        if name in first_line:
            ctx.add(_join(path, name), f"duplicate key; first defined on line {first_line[name]}", line=key_line)
            continue
        first_line[name] = key_line
        yield name, key_line, value_node


# --------------------------------------------------------------------------------------------------- converters

# A converter turns the node under one key (None when the key is absent) into its typed value. `line` is the
# line of the key, used for problems about the whole value; list items use their own line.
Converter = Callable[[_Ctx, "Node | None", str, int], Any]


class _Reject(Exception):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message


def _scalar(message: str, accept: Callable[[Any], Any], *, secret: bool = False) -> Converter:
    """A converter for one scalar: `accept` returns the typed value or raises `_Reject` (optionally more precise)."""

    def convert(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        value = _plain(ctx, node, path, line)
        if value is _INVALID:
            return _INVALID
        try:
            return accept(value)
        except _Reject as reject:
            ctx.add(path, reject.message or message, "***" if secret else value, line)
            return _INVALID

    return convert


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(low: int, high: int) -> Converter:
    """An integer within [low, high]: every numeric key has both bounds, so no value reaches code unchecked."""
    message = f"must be an integer from {low} to {high}"

    def accept(value: Any) -> int:
        if _is_int(value) and low <= value <= high:
            return int(value)
        raise _Reject

    return _scalar(message, accept)


def _number(low: float, high: float) -> Converter:
    """A finite number (int or float) within [low, high]; NaN and infinities never pass."""
    message = f"must be a number from {low:g} to {high:g}"

    def accept(value: Any) -> float:
        if _is_number(value) and low <= value <= high:
            return float(value)
        raise _Reject

    return _scalar(message, accept)


def _boolean() -> Converter:
    def accept(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
            raise _Reject(f"must be true or false ('{value}' is a string in YAML 1.2)")
        raise _Reject

    return _scalar("must be true or false", accept)


def _mqtt_text_problem(text: str, *, binary: bool = False) -> str | None:
    """Why MQTT would refuse `text` as a string (client id, user name) or, `binary`, as binary data (password)."""
    if not binary:
        bad = _MQTT_FORBIDDEN_RE.search(text)
        if bad:
            return f"must not contain control characters such as {bad.group()!r} (MQTT forbids them)"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return "must be valid Unicode text (it contains a lone surrogate)"
    if size > MQTT_STRING_MAX:
        return f"is {size} bytes long; MQTT allows at most {MQTT_STRING_MAX} bytes"
    return None


def _string(
    message: str = "must be a string",
    *,
    pattern: re.Pattern[str] | None = None,
    max_len: int | None = None,
    mqtt: str | None = None,
    secret: bool = False,
    transform: Callable[[str], Any] = str,
) -> Converter:
    """A non-empty string; `mqtt` ("text" or "binary") also applies MQTT's rules for what goes on the wire."""

    def accept(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            raise _Reject
        if mqtt is not None:
            problem = _mqtt_text_problem(value, binary=mqtt == "binary")
            if problem:
                raise _Reject(problem)
        if max_len is not None and len(value) > max_len:
            raise _Reject
        if pattern is not None and not pattern.fullmatch(value):
            raise _Reject
        return transform(value)

    return _scalar(message, accept, secret=secret)


def _optional(convert: Converter) -> Converter:
    """null (or an absent key) is None; anything else goes to `convert`."""

    def optional(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        return None if _is_null(node) else convert(ctx, node, path, line)

    return optional


def _choice(choices: Mapping[Any, Any], message: str, *, fold_case: bool = False) -> Converter:
    """One of the keys of `choices` (type and value must both match, so 5.0 and true are not 5 and 1)."""
    table = {(type(key), key.lower() if fold_case and isinstance(key, str) else key): v for key, v in choices.items()}

    def accept(value: Any) -> Any:
        lookup = value.lower() if fold_case and isinstance(value, str) else value
        try:
            return table[(type(value), lookup)]
        except (KeyError, TypeError):
            raise _Reject from None

    return _scalar(message, accept)


def _enum(values: tuple[str, ...], *, fold_case: bool = False) -> Converter:
    return _choice({v: v for v in values}, "must be one of: " + ", ".join(values), fold_case=fold_case)


def _ip_address(example: str) -> Converter:
    def accept(value: Any) -> str:
        if not isinstance(value, str):
            raise _Reject
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise _Reject from None

    return _scalar(f"must be an IPv4 or IPv6 address, e.g. {example}", accept)


def _network() -> Converter:
    message = "must be an IP address or CIDR network, e.g. 192.168.1.0/24"

    def accept(value: Any) -> IPNetwork:
        if not isinstance(value, str):
            raise _Reject
        try:
            return ipaddress.ip_network(value, strict=True)
        except ValueError:
            pass
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _Reject from None
        raise _Reject(f"host bits are set in this CIDR network; did you mean {loose}?")

    return _scalar(message, accept)


def _host() -> Converter:
    def accept(value: Any) -> str:
        if isinstance(value, str):
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                if _HOSTNAME_RE.fullmatch(value):
                    return value
        raise _Reject

    return _scalar("must be a host name or IP address (no scheme, no port)", accept)


def _parse_hostport(text: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); raises ValueError with the reason."""
    if text.startswith("["):
        match = re.fullmatch(r"\[([^\]]*)\]:([^:]*)", text)
        if not match:
            raise ValueError('write an IPv6 target as "[address]:port", e.g. "[::1]:20778"')
        host, port_text = match.groups()
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError('expected "host:port"')
        if ":" in host:
            raise ValueError('IPv6 addresses need brackets, e.g. "[::1]:20778"')
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            if not _HOSTNAME_RE.fullmatch(host):
                raise ValueError(f"{host!r} is not a host name or IP address") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("port must be an integer from 1 to 65535")
    if host in ("0.0.0.0", "::"):
        raise ValueError("the unspecified address cannot be a destination")
    return host, int(port_text)


def _parse_source(text: str) -> tuple[str, int]:
    """"host", "host:port", "[v6]:port" or a bare IPv6 address -> (host, port; 0 = any port)."""
    try:
        host, port = str(ipaddress.ip_address(text)), 0
    except ValueError:
        if ":" in text:
            return _parse_hostport(text)
        if not _HOSTNAME_RE.fullmatch(text):
            raise ValueError(f"{text!r} is not a host name or IP address") from None
        return text, 0
    if ipaddress.ip_address(host).is_unspecified:
        raise ValueError("the unspecified address cannot be a sender")
    return host, port


def _source() -> Converter:
    """`udp.source`: one sender, its host name resolved now so the receiver compares addresses only."""

    def convert(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        value = _plain(ctx, node, path, line)
        if value is _INVALID:
            return _INVALID
        message = 'must be "host" or "host:port", IPv6 as "[::1]:20777"'
        if not isinstance(value, str):
            ctx.add(path, message, value, line)
            return _INVALID
        try:
            host, port = _parse_source(value)
        except ValueError as exc:
            ctx.add(path, f"{message} ({exc})", value, line)
            return _INVALID
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
        except (OSError, UnicodeError) as exc:
            ctx.add(path, f"cannot resolve {host!r}: {getattr(exc, 'strerror', None) or exc}", value, line)
            return _INVALID
        return str(plain_address(str(infos[0][4][0]))), port  # IPv4-mapped IPv6 as IPv4, as the receiver compares

    return convert


def _hostport() -> Converter:
    def accept(value: Any) -> tuple[str, int]:
        if not isinstance(value, str):
            raise _Reject
        try:
            return _parse_hostport(value)
        except ValueError as exc:
            raise _Reject(f'must be "host:port" ({exc})') from None

    return _scalar('must be a "host:port" string, IPv6 as "[::1]:20778"', accept)


def _file_path(ctx: _Ctx, node: Node | None, path: str, line: int, message: str) -> tuple[str, Path] | Any:
    """(as written, resolved against the config file's directory); `_INVALID` when it is no usable path."""
    value = _plain(ctx, node, path, line)
    if value is _INVALID:
        return _INVALID
    if not isinstance(value, str) or not value or "\0" in value:
        ctx.add(path, message, value, line)
        return _INVALID
    return value, ctx.base_dir / Path(value).expanduser()


def _existing_file() -> Converter:
    """A path to a readable file; relative paths are relative to the config file's directory."""

    def convert(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        given = _file_path(ctx, node, path, line, "must be a file path")
        if given is _INVALID:
            return _INVALID
        value, resolved = given
        if not resolved.exists():
            reason = "file not found"
        elif not resolved.is_file():
            reason = "not a regular file"
        elif not os.access(resolved, os.R_OK):
            reason = "file is not readable"
        else:
            return str(resolved)
        ctx.add(path, f"{reason}: {resolved}", value, line)
        return _INVALID

    return convert


def _is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(path.stat().st_mode)
    except OSError:
        return False


def _record_file() -> Converter:
    """`udp.record`: a capture recording may append to, or a new file in a directory the bridge can write."""

    def convert(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        given = _file_path(ctx, node, path, line, "must be the path of a capture file to append to")
        if given is _INVALID:
            return _INVALID
        value, resolved = given
        # A character device (/dev/null, /dev/full) takes the stream without being a file: never read, so allowed.
        reason = None if _is_char_device(resolved) else check_capture_file(resolved)
        if reason is None:
            if resolved.exists():
                reason = None if os.access(resolved, os.W_OK) else "file is not writable"
            elif not resolved.parent.is_dir():
                reason = "its directory does not exist"
            elif not os.access(resolved.parent, os.W_OK | os.X_OK):
                reason = "its directory is not writable"
        if reason is None:
            return str(resolved)
        ctx.add(path, f"{reason}: {resolved}", value, line)
        return _INVALID

    return convert


def _list(item: Converter, *, min_items: int = 0, unique: bool = False) -> Converter:
    """A YAML list of `item`s, stored as a tuple; null keeps the default."""

    def convert(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        if _is_null(node):
            return _DEFAULT
        if not isinstance(node, SequenceNode):
            value = _plain(ctx, node, path, line)
            if value is not _INVALID:
                ctx.add(path, "must be a list", value, line)
            return _INVALID
        items: list[Any] = []
        first_line: dict[Any, int] = {}
        failed = False
        for index, item_node in enumerate(node.value):
            item_path, item_line = f"{path}[{index}]", _line(item_node)
            ctx.lines[item_path] = item_line
            value = item(ctx, item_node, item_path, item_line)
            if value is _INVALID:
                ctx.invalid.add(item_path)
                failed = True
                continue
            if unique:
                if value in first_line:
                    ctx.add(item_path, f"listed twice; first on line {first_line[value]}", value, item_line)
                    failed = True
                    continue
                first_line[value] = item_line
            items.append(value)
        if len(node.value) < min_items:
            ctx.add(path, f"must have at least {min_items} entr{'y' if min_items == 1 else 'ies'}", line=line)
            failed = True
        return _INVALID if failed else tuple(items)

    return convert


def _glob_map(value: Converter, message: str) -> Converter:
    """A mapping glob -> value, stored as a tuple of (glob, value) pairs in file order; null keeps the default."""
    key_check = _string(message, pattern=_GLOB_RE)

    def convert(ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        if _is_null(node):
            return _DEFAULT
        if not isinstance(node, MappingNode):
            plain = _plain(ctx, node, path, line)
            if plain is not _INVALID:
                ctx.add(path, "must be a mapping of glob: number", plain, line)
            return _INVALID
        pairs: list[tuple[str, Any]] = []
        failed = False
        for name, key_line, value_node in _iter_mapping(ctx, node, path):
            entry_path = _join(path, name)
            ctx.lines[entry_path] = key_line
            glob = key_check(ctx, ScalarNode("tag:yaml.org,2002:str", name), entry_path, key_line)
            converted = value(ctx, value_node, entry_path, key_line)
            if glob is _INVALID or converted is _INVALID:
                ctx.invalid.add(entry_path)
                failed = True
                continue
            pairs.append((glob, converted))
        return _INVALID if failed else tuple(pairs)

    return convert


Check = Callable[[_Ctx, Any, str], Any]


class _Section:
    """A converter for a mapping that becomes dataclass `cls`; `keys` must name exactly its fields.

    Absent keys keep the dataclass default; a field without a default is a required key. Nested sections are
    converted even when absent, so their rules (environment overrides, computed defaults) always run. `checks`
    get the built object and return it, possibly replaced.
    """

    def __init__(self, cls: type, keys: Mapping[str, Converter], checks: tuple[Check, ...] = ()) -> None:
        fields = dataclasses.fields(cls)
        if sorted(f.name for f in fields) != sorted(keys):
            raise TypeError(f"schema of {cls.__name__} does not match its fields")
        self.cls = cls
        self.keys = {f.name: keys[f.name] for f in fields}
        self.required = [
            f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        self.checks = checks

    def __call__(self, ctx: _Ctx, node: Node | None, path: str, line: int) -> Any:
        given: dict[str, Node] = {}
        if not _is_null(node):
            if not isinstance(node, MappingNode):
                value = _plain(ctx, node, path, line)
                if value is not _INVALID:
                    expected = ", ".join(self.keys)
                    if path:
                        ctx.add(path, f"must be a mapping with keys: {expected}", value, line)
                    else:
                        ctx.add(path, f"the top level must be a mapping of sections: {expected}", value, line)
                return _INVALID
            for name, key_line, value_node in _iter_mapping(ctx, node, path):
                key_path = _join(path, name)
                if name not in self.keys:
                    ctx.add(key_path, _unknown_key_message(name, list(self.keys)), line=key_line)
                    continue
                ctx.lines[key_path] = key_line
                given[name] = value_node
        kwargs: dict[str, Any] = {}
        failed = False
        for name, convert in self.keys.items():
            key_path = _join(path, name)
            if name in given:
                value = convert(ctx, given[name], key_path, ctx.lines[key_path])
            elif isinstance(convert, _Section):
                value = convert(ctx, None, key_path, line)
            elif name in self.required:
                ctx.add(key_path, "required key is missing", line=line)
                failed = True
                continue
            else:
                continue
            if value is _INVALID:
                ctx.invalid.add(key_path)
                failed = failed or name in self.required
            elif value is not _DEFAULT:
                kwargs[name] = value
        if failed:
            return _INVALID
        built = self.cls(**kwargs)
        for check in self.checks:
            built = check(ctx, built, path)
        return built


def _unknown_key_message(name: str, expected: list[str]) -> str:
    message = f"unknown key; expected one of: {', '.join(expected)}"
    close = difflib.get_close_matches(name, expected, n=1)
    return f"{message}; did you mean {close[0]}?" if close else message


# --------------------------------------------------------------------------------------------------- cross-field rules


def _bind_problem(address: str, kind: socket.SocketKind) -> str | None:
    """Why this machine cannot bind `address`, tried with a port-0 socket closed at once; None when it can."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    try:
        with socket.socket(family, kind) as sock:
            sock.bind((address, 0))
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            return "is not an address of this machine (nothing could be received on it)"
        return f"cannot be bound on this machine: {exc.strerror or exc}"
    return None


def _check_bind(ctx: _Ctx, path: str, address: str, kind: socket.SocketKind) -> None:
    if ctx.ok(path):
        problem = _bind_problem(address, kind)
        if problem:
            ctx.add(path, problem, address)


def _check_udp(ctx: _Ctx, udp: UdpSettings, path: str) -> UdpSettings:
    _check_bind(ctx, f"{path}.bind", udp.bind, socket.SOCK_DGRAM)
    forward = f"{path}.forward"
    if ctx.ok(forward) and len(udp.forward) > MAX_FORWARD_TARGETS:
        count = _Shape(f"{len(udp.forward)} targets")
        ctx.add(forward, f"at most {MAX_FORWARD_TARGETS} forward targets are supported", count)
    elif ctx.ok(f"{path}.bind", f"{path}.port", forward):
        for index, message in sorted(self_loop_problems(udp.forward, udp.bind, udp.port).items()):
            ctx.add(f"{forward}[{index}]", message, _format_hostport(*udp.forward[index]))
    return udp


class _EncryptedKey(Exception):
    pass


def _refuse_passphrase() -> str:
    raise _EncryptedKey  # never prompt on the terminal: the bridge runs unattended


def _ssl_reason(exc: Exception) -> str:
    text = str(exc.args[1]) if isinstance(exc, ssl.SSLError) and len(exc.args) > 1 else str(exc)
    return re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)


def _check_tls_files(ctx: _Ctx, tls: Any, path: str, *, server: bool) -> None:
    """Load the CA, certificate and key files with `ssl` now, as the bridge will, so a bad file is a problem here."""
    ca_file = getattr(tls, "ca_file", None)
    if ca_file is not None and ctx.ok(f"{path}.ca_file"):
        try:
            ssl.create_default_context(cafile=ca_file)
        except (ssl.SSLError, OSError) as exc:
            ctx.add(f"{path}.ca_file", f"not a usable PEM CA certificate file: {_ssl_reason(exc)}", ca_file)
    cert, key = f"{path}.cert_file", f"{path}.key_file"
    if tls.cert_file is None or tls.key_file is None or not ctx.ok(cert, key):
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file, password=_refuse_passphrase)
    except _EncryptedKey:
        ctx.add(key, "the key is protected by a passphrase; give an unencrypted key file", tls.key_file)
    except (ssl.SSLError, OSError) as exc:
        try:
            context.load_verify_locations(cafile=tls.cert_file)  # parses the certificate file alone
        except (ssl.SSLError, OSError) as cert_exc:
            ctx.add(cert, f"not a usable PEM certificate file: {_ssl_reason(cert_exc)}", tls.cert_file)
            return
        if "KEY_VALUES_MISMATCH" in str(exc):
            ctx.add(key, f"does not belong to the certificate in {cert}", tls.key_file)
        else:
            ctx.add(key, f"not a usable PEM private key file: {_ssl_reason(exc)}", tls.key_file)


def _check_cert_pair(ctx: _Ctx, tls: Any, path: str) -> Any:
    cert, key = f"{path}.cert_file", f"{path}.key_file"
    if ctx.given(cert) and not ctx.given(key):
        ctx.add(key, f"required when {cert} is set (cert_file and key_file go together)")
    elif ctx.given(key) and not ctx.given(cert):
        ctx.add(cert, f"required when {key} is set (cert_file and key_file go together)")
    return tls


def _check_client_tls(ctx: _Ctx, tls: TlsSettings, path: str) -> TlsSettings:
    _check_tls_files(ctx, tls, path, server=False)
    return tls


def _check_server_tls(ctx: _Ctx, tls: MetricsTlsSettings, path: str) -> MetricsTlsSettings:
    _check_tls_files(ctx, tls, path, server=True)
    return tls


def _check_metrics(ctx: _Ctx, metrics: MetricsSettings, path: str) -> MetricsSettings:
    if metrics.enabled:
        _check_bind(ctx, f"{path}.bind", metrics.bind, socket.SOCK_STREAM)
    return metrics


def _read_password_file(ctx: _Ctx, file_path: str, path: str) -> str | None:
    try:
        with open(file_path, "rb") as f:
            text = f.read(MQTT_STRING_MAX + 3).decode("utf-8")  # + room for a trailing newline, and one byte more
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        ctx.add(path, f"cannot read password file: {reason}", file_path)
        return None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if not text:
        ctx.add(path, "password file is empty", file_path)
        return None
    problem = _mqtt_text_problem(text, binary=True)
    if problem:
        ctx.add(path, f"password {problem}", file_path)
        return None
    return text


def _check_mqtt(ctx: _Ctx, mqtt: MqttSettings, path: str) -> MqttSettings:
    changes: dict[str, Any] = {}
    if ctx.ok(f"{path}.reconnect_min_s", f"{path}.reconnect_max_s") and mqtt.reconnect_max_s < mqtt.reconnect_min_s:
        ctx.add(
            f"{path}.reconnect_max_s",
            f"must be >= mqtt.reconnect_min_s ({mqtt.reconnect_min_s:g})",
            mqtt.reconnect_max_s,
        )
    if mqtt.tls_insecure and ctx.ok(f"{path}.tls.enabled") and not mqtt.tls.enabled:
        ctx.add(f"{path}.tls_insecure", "has no effect unless mqtt.tls.enabled is true", True)

    password = mqtt.password
    if ctx.given(f"{path}.password_file") and ctx.ok(f"{path}.password_file"):
        if ctx.given(f"{path}.password") and mqtt.password is not None:
            ctx.add(f"{path}.password_file", "cannot be used together with mqtt.password; keep one")
        elif mqtt.password_file is not None:
            password = _read_password_file(ctx, mqtt.password_file, f"{path}.password_file")
    username = mqtt.username
    if ctx.env.get(ENV_USERNAME):
        username = ctx.env[ENV_USERNAME]
        problem = _mqtt_text_problem(username)
        if problem:
            ctx.add(f"{path}.username", f"{problem} (set by {ENV_USERNAME})", username)
    if ctx.env.get(ENV_PASSWORD):
        password = ctx.env[ENV_PASSWORD]
        problem = _mqtt_text_problem(password, binary=True)
        if problem:
            ctx.add(f"{path}.password", f"{problem} (set by {ENV_PASSWORD})", "***")
    if password is not None and username is None and ctx.ok(f"{path}.username"):
        ctx.add(f"{path}.username", f"required when a password is set (in the file or {ENV_USERNAME})")
    if username != mqtt.username:
        changes["username"] = username
    if password != mqtt.password:
        changes["password"] = password
    return dataclasses.replace(mqtt, **changes) if changes else mqtt


def _check_lights(ctx: _Ctx, lights: LightsSettings, path: str) -> LightsSettings:
    profile, leds = f"{path}.profile", f"{path}.leds"
    if ctx.given(profile) and ctx.ok(profile, leds):
        total = sum(segment.count for segment in lights.profile)
        if total != lights.leds:
            counts = " + ".join(str(segment.count) for segment in lights.profile)
            ctx.add(profile, f"segment counts add up to {total} ({counts}) but lights.leds is {lights.leds}")
    start, shift = f"{path}.rev_start_pct", f"{path}.shift_pct"
    if ctx.ok(start, shift) and lights.rev_start_pct >= lights.shift_pct:
        ctx.add(shift, f"must be above {start} ({lights.rev_start_pct:g})", lights.shift_pct)
    return lights


def _check_wled(ctx: _Ctx, wled: WledSettings, path: str) -> WledSettings:
    if wled.enabled and not wled.topics and ctx.ok(f"{path}.topics"):
        ctx.add(f"{path}.topics", f"must list at least one WLED topic when {path}.enabled is true", [])
    return wled


# What each realtime protocol can address (ddp: a 32-bit byte offset, far beyond these bounds).
_REALTIME_LIMITS = {
    "warls": (254, "WARLS addresses LEDs by a one-byte index: start + leds must be at most 255"),
    "drgb": (489, "DRGB carries at most 490 LEDs, always from LED 0: use dnrgb or ddp for a segment further on"),
}


def _check_realtime_device(ctx: _Ctx, device: RealtimeDevice, path: str) -> RealtimeDevice:
    """The segment must fit what its protocol can address (`leds` None: checked with lights.leds later)."""
    limit = _REALTIME_LIMITS.get(device.protocol)
    if limit is None or device.leds is None or not ctx.ok(f"{path}.protocol", f"{path}.leds", f"{path}.start"):
        return device
    last, message = limit
    if device.protocol == "drgb" and device.start:
        ctx.add(f"{path}.start", message, device.start)
    elif device.start + device.leds - 1 > last:
        key = f"{path}.leds" if ctx.given(f"{path}.leds") else f"{path}.start"
        ctx.add(key, f"{message} (start {device.start} + leds {device.leds})", getattr(device, key.rsplit(".", 1)[1]))
    return device


def realtime_loop_message(message: str) -> str:
    """`self_loop_problems`' reason for a forward target, said of an LED device."""
    return message.replace("forwards to", "sends to").replace(
        "every datagram would loop", "the bridge would receive its own LED frames")


def _check_realtime(ctx: _Ctx, settings: Settings) -> None:
    """LED devices: the strip must fit the protocol, and no device may be the bridge's own UDP port."""
    lights, udp, path = settings.lights, settings.udp, "lights.realtime"
    if not ctx.ok(path):
        return
    if len(lights.realtime) > MAX_REALTIME_DEVICES:
        count = _Shape(f"{len(lights.realtime)} devices")
        ctx.add(path, f"at most {MAX_REALTIME_DEVICES} devices are supported", count)
        return
    first: dict[tuple[tuple[str, int], int], int] = {}
    for index, device in enumerate(lights.realtime):
        item = f"{path}[{index}]"
        if device.leds is None and ctx.ok("lights.leds"):
            _check_realtime_device(ctx, dataclasses.replace(device, leds=lights.leds), item)
        segment = (device.target, device.start)
        if segment in first:  # one segment driven twice: the two frames would fight
            ctx.add(f"{item}.target", f"drives the same device from the same start as {path}[{first[segment]}]; "
                    "give each segment its own start", _format_hostport(*device.target))
        first.setdefault(segment, index)
    if ctx.ok("udp.bind", "udp.port"):
        targets = [device.target for device in lights.realtime]
        for index, message in sorted(self_loop_problems(targets, udp.bind, udp.port).items()):
            ctx.add(f"{path}[{index}].target", realtime_loop_message(message),
                    _format_hostport(*targets[index]))


def _check_topic(ctx: _Ctx, key: str, value: str, longest_topic: str) -> None:
    """The longest topic built from `value` must pass the topic module's own check (the same length bound)."""
    try:
        checked(longest_topic)
    except TopicError:
        size = len(longest_topic.encode("utf-8"))
        fits = len(value.encode("utf-8")) - (size - MAX_TOPIC)
        message = f"too long: topics built from it reach {size} bytes, over the {MAX_TOPIC}-byte limit"
        ctx.add(key, f"{message}; at most {max(fits, 0)} characters fit here", value)


def _check_topic_lengths(ctx: _Ctx, settings: Settings) -> None:
    mqtt, ha = settings.mqtt, settings.homeassistant
    relative = [(f, f.topic(car=99)) for f in CATALOG]  # car indices have at most two digits
    if ctx.ok("mqtt.base_topic", "mqtt.rig"):
        below = "ha/" if ha.enabled else ""  # Home Assistant's rate-limited copies live under <root>/ha/
        longest = max((f"{mqtt.root_topic}/{below}{path}" for _, path in relative), key=len)
        _check_topic(ctx, "mqtt.base_topic", mqtt.base_topic, longest)
    if ha.enabled and ctx.ok("homeassistant.discovery_prefix", "mqtt.rig"):
        # the discovery config topics, as Home Assistant discovery names them
        config_topics = (
            f"{ha.discovery_prefix}/{f.ha.component}/{mqtt.rig}/{path.replace('/', '_')}/config"
            for f, path in relative
            if f.ha is not None
        )
        _check_topic(ctx, "homeassistant.discovery_prefix", ha.discovery_prefix, max(config_topics, key=len))
    for index, topic in enumerate(settings.lights.wled.topics):
        _check_topic(ctx, f"lights.wled.topics[{index}]", topic, f"{topic}/api")


def _check_settings(ctx: _Ctx, settings: Settings, path: str) -> Settings:
    ha = settings.homeassistant
    if ha.enabled and "cars" in ha.groups and settings.publish.cars == "none" and ctx.ok("publish.cars"):
        ctx.add("homeassistant.groups", "includes cars but publish.cars is none, so no car topics exist")
    _check_topic_lengths(ctx, settings)
    _check_realtime(ctx, settings)
    return settings


# --------------------------------------------------------------------------------------------------- schema

_TOPIC_MESSAGE = (
    "must be topic levels of letters, digits, _ or - separated by single '/' "
    "(no + or # wildcards, no $, no leading or trailing '/')"
)
_GLOB_MESSAGE = (
    "must be a glob over topic paths below <base>/<rig>/, e.g. 'player/*' or 'cars/*/position' "
    "(no + or # wildcards, no leading or trailing '/')"
)
_PORT = _integer(1, 65535)
_FILE = _optional(_existing_file())
_RATE_HZ = _number(0.001, 60)  # from once in 17 minutes to the game's fastest send rate

_SCHEMA = _Section(
    Settings,
    {
        "udp": _Section(
            UdpSettings,
            {
                "bind": _ip_address("0.0.0.0 or ::"),
                "port": _PORT,
                "allow_from": _list(_network(), unique=True),
                "forward": _list(_hostport(), unique=True),
                # 1 GiB is far above any buffer the kernel grants (net.core.rmem_max) and fits setsockopt's C int
                "rcvbuf_bytes": _integer(65536, 1 << 30),
                # at least a few of the game's slowest send intervals (10 Hz), so pauses are not seen in between
                "receive_timeout_s": _number(0.5, 3600),
                "record": _optional(_record_file()),
                "source": _optional(_source()),
                "game": _enum(("auto", *(game.key for game in LIVE))),
            },
            (_check_udp,),
        ),
        "mqtt": _Section(
            MqttSettings,
            {
                "host": _host(),
                "port": _PORT,
                "rig": _string("must be 1 to 32 characters from A-Z a-z 0-9 _ -", pattern=_RIG_RE),
                "base_topic": _string(_TOPIC_MESSAGE, pattern=_TOPIC_RE),
                "keepalive": _integer(5, 3600),
                "protocol": _choice(
                    {5: 5, 311: 311, "5": 5, "3.1.1": 311, "311": 311},
                    "must be 5 or 3.1.1 (also accepted: 311)",
                ),
                "client_id": _optional(_string("must be a string of 1 to 64 characters", max_len=64, mqtt="text")),
                "username": _optional(_string("must be a non-empty string", mqtt="text")),
                "password": _optional(_string("must be a non-empty string (quote it)", mqtt="binary", secret=True)),
                "password_file": _FILE,
                "tls": _Section(
                    TlsSettings,
                    {"enabled": _boolean(), "ca_file": _FILE, "cert_file": _FILE, "key_file": _FILE},
                    (_check_cert_pair, _check_client_tls),
                ),
                "tls_insecure": _boolean(),
                # at most ten attempts a second while the broker is down; an hour between attempts at most
                "reconnect_min_s": _number(0.1, 3600),
                "reconnect_max_s": _number(0.1, 3600),
            },
            (_check_mqtt,),
        ),
        "publish": _Section(
            PublishSettings,
            {
                "cars": _enum(PUBLISH_CARS),
                "include": _list(_string(_GLOB_MESSAGE, pattern=_GLOB_RE)),
                "exclude": _list(_string(_GLOB_MESSAGE, pattern=_GLOB_RE)),
                "rates": _Section(RateSettings, {name: _RATE_HZ for name in ("fast", "normal", "slow")}),
                "deadbands": _glob_map(_number(0, 1e9), _GLOB_MESSAGE),  # 1e9: beyond any field's range
                "expiry_s": _integer(0, MQTT_FOUR_BYTE_MAX),
                "qos_fast": _choice({0: 0, 1: 1}, "must be 0 or 1"),
            },
        ),
        "metrics": _Section(
            MetricsSettings,
            {
                "enabled": _boolean(),
                "bind": _ip_address("127.0.0.1 or ::1"),
                "port": _PORT,
                "tls": _Section(
                    MetricsTlsSettings,
                    {"cert_file": _FILE, "key_file": _FILE},
                    (_check_cert_pair, _check_server_tls),
                ),
            },
            (_check_metrics,),
        ),
        "homeassistant": _Section(
            HomeAssistantSettings,
            {
                "enabled": _boolean(),
                "discovery_prefix": _string(_TOPIC_MESSAGE, pattern=_TOPIC_RE),
                "groups": _list(_enum(HA_GROUPS), unique=True),
                # Home Assistant records every state change: 10 Hz per entity is already more than it is built for
                "max_rate_hz": _number(0.01, 10),
            },
        ),
        "lights": _Section(
            LightsSettings,
            {
                "leds": _integer(1, 300),
                "brightness": _integer(0, 255),
                "profile": _list(
                    _Section(
                        LedSegment,
                        {
                            "count": _integer(1, 300),
                            "color": _string('must be a "#rrggbb" color', pattern=_COLOR_RE, transform=str.lower),
                        },
                    ),
                    min_items=1,
                ),
                # LEDs are drawn per packet (60 Hz at most): faster flashing could not be shown
                "limiter_flash_hz": _number(0.1, 30),
                "rev_start_pct": _number(0, 99),
                "shift_pct": _number(1, 100),
                "wled": _Section(
                    WledSettings,
                    {"enabled": _boolean(), "topics": _list(_string(_TOPIC_MESSAGE, pattern=_TOPIC_RE), unique=True)},
                    (_check_wled,),
                ),
                "realtime": _list(
                    _Section(
                        RealtimeDevice,
                        {
                            "target": _hostport(),
                            "protocol": _enum(REALTIME_PROTOCOLS, fold_case=True),
                            "leds": _optional(_integer(1, 1024)),
                            "start": _integer(0, 8191),
                            "reversed": _boolean(),
                            "brightness": _integer(0, 255),
                            # 255 would mean "never": a device must fall back by itself if the bridge dies
                            "timeout_s": _integer(1, 254),
                            "flags": _boolean(),
                        },
                        (_check_realtime_device,),
                    ),
                ),
            },
            (_check_lights,),
        ),
        "log": _Section(LogSettings, {"level": _enum(LOG_LEVELS, fold_case=True)}),
    },
    (_check_settings,),
)


# --------------------------------------------------------------------------------------------------- entry points


def _load(text: str | None, file: str, base_dir: Path, env: Mapping[str, str]) -> Settings:
    ctx = _Ctx(file, base_dir, env)
    root: Node | None = None
    if text is not None:
        try:
            root = ctx.compose(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
            ctx.add("", f"not valid YAML: {reason}", line=int(mark.line) + 1 if mark else 1)
        except ReaderError as exc:
            line = text.count("\n", 0, max(int(exc.position), 0)) + 1
            ctx.add("", f"not valid YAML: {exc.reason} (character {exc.character!r})", line=line)
        except YAMLError as exc:
            ctx.add("", f"not valid YAML: {type(exc).__name__}", line=1)
    settings = _SCHEMA(ctx, root, "", 1) if not ctx.problems else _INVALID
    if ctx.problems or settings is _INVALID:
        problems = sorted(ctx.problems, key=lambda problem: problem.line)
        if len(problems) > MAX_PROBLEMS:  # a screenful is enough to act on; a hostile file can make 100,000
            rest = len(problems) - MAX_PROBLEMS
            more = Problem(file, problems[MAX_PROBLEMS].line, "<file>", f"{rest} more problems not shown")
            problems = [*problems[:MAX_PROBLEMS], more]
        raise ConfigError(problems)
    assert isinstance(settings, Settings)
    return settings


def default_settings() -> Settings:
    """Every setting at its default (no file, no environment); `mqtt.client_id` is fresh on each call."""
    return _load(None, "<defaults>", Path.cwd(), {})


def load_settings(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate a config file (None: defaults only), then apply the secret environment overrides.

    `env` defaults to `os.environ`; pass `{}` to ignore the environment. Relative paths in the file are relative
    to the file's directory. Raises `ConfigError` listing every problem found.
    """
    environment = os.environ if env is None else env
    if path is None:
        return _load(None, "<defaults>", Path.cwd(), environment)
    file = os.fspath(path)
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # never more: /dev/zero or a huge file ends here
    except OSError as exc:
        raise ConfigError([Problem(file, 1, "<file>", f"cannot read file: {exc.strerror or exc}")]) from None
    if len(data) > MAX_FILE_BYTES:
        message = f"file too large: more than {MAX_FILE_BYTES} bytes (a config file is a few KiB)"
        raise ConfigError([Problem(file, 1, "<file>", message)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([Problem(file, line, "<file>", "not UTF-8 text")]) from None
    return _load(text, file, Path(file).parent, environment)


def check_config_main(path: str, out: TextIO) -> int:
    """`rigbridge check-config`: 0 and a summary when the file is valid, else 2 and every problem, one per line."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        return 2
    print(f"{path}: ok", file=out)
    print(settings.summary(), file=out)
    return 0
