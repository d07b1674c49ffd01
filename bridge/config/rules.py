"""Cross-field rules: checks that need more than one key, or the machine (bind, TLS files, password files).

Each runs on a built section and skips values already invalid, so one mistake gives one message.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import re
import socket
import ssl
from typing import Any

from bridge.config.context import Ctx
from bridge.config.converters import MQTT_STRING_MAX, mqtt_text_problem
from bridge.config.problems import Shape
from bridge.ingest.targets import MAX_FORWARD_TARGETS
from bridge.net import realtime_loop_message, self_loop_problems
from bridge.publish.catalog import CATALOG
from bridge.publish.topics import MAX_TOPIC, TopicError, checked
from bridge.settings import (
    MAX_REALTIME_DEVICES,
    LightsSettings,
    MetricsSettings,
    MetricsTlsSettings,
    MqttSettings,
    RealtimeDevice,
    Settings,
    TlsSettings,
    UdpSettings,
    WledSettings,
    format_hostport,
)

ENV_USERNAME = "RIGBRIDGE_MQTT_USERNAME"
ENV_PASSWORD = "RIGBRIDGE_MQTT_PASSWORD"


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


def _check_bind(ctx: Ctx, path: str, address: str, kind: socket.SocketKind) -> None:
    if ctx.ok(path):
        problem = _bind_problem(address, kind)
        if problem:
            ctx.add(path, problem, address)


def check_udp(ctx: Ctx, udp: UdpSettings, path: str) -> UdpSettings:
    _check_bind(ctx, f"{path}.bind", udp.bind, socket.SOCK_DGRAM)
    forward = f"{path}.forward"
    if ctx.ok(forward) and len(udp.forward) > MAX_FORWARD_TARGETS:
        count = Shape(f"{len(udp.forward)} targets")
        ctx.add(forward, f"at most {MAX_FORWARD_TARGETS} forward targets are supported", count)
    elif ctx.ok(f"{path}.bind", f"{path}.port", forward):
        for index, message in sorted(self_loop_problems(udp.forward, udp.bind, udp.port).items()):
            ctx.add(f"{forward}[{index}]", message, format_hostport(*udp.forward[index]))
    return udp


class _EncryptedKey(Exception):
    pass


def _refuse_passphrase() -> str:
    raise _EncryptedKey  # never prompt on the terminal: the bridge runs unattended


def _ssl_reason(exc: Exception) -> str:
    text = str(exc.args[1]) if isinstance(exc, ssl.SSLError) and len(exc.args) > 1 else str(exc)
    return re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)


def _check_tls_files(ctx: Ctx, tls: Any, path: str, *, server: bool) -> None:
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


def check_cert_pair(ctx: Ctx, tls: Any, path: str) -> Any:
    cert, key = f"{path}.cert_file", f"{path}.key_file"
    if ctx.given(cert) and not ctx.given(key):
        ctx.add(key, f"required when {cert} is set (cert_file and key_file go together)")
    elif ctx.given(key) and not ctx.given(cert):
        ctx.add(cert, f"required when {key} is set (cert_file and key_file go together)")
    return tls


def check_client_tls(ctx: Ctx, tls: TlsSettings, path: str) -> TlsSettings:
    _check_tls_files(ctx, tls, path, server=False)
    return tls


def check_server_tls(ctx: Ctx, tls: MetricsTlsSettings, path: str) -> MetricsTlsSettings:
    _check_tls_files(ctx, tls, path, server=True)
    return tls


def check_metrics(ctx: Ctx, metrics: MetricsSettings, path: str) -> MetricsSettings:
    if metrics.enabled:
        _check_bind(ctx, f"{path}.bind", metrics.bind, socket.SOCK_STREAM)
    return metrics


def _read_password_file(ctx: Ctx, file_path: str, path: str) -> str | None:
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
    problem = mqtt_text_problem(text, binary=True)
    if problem:
        ctx.add(path, f"password {problem}", file_path)
        return None
    return text


def check_mqtt(ctx: Ctx, mqtt: MqttSettings, path: str) -> MqttSettings:
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
        problem = mqtt_text_problem(username)
        if problem:
            ctx.add(f"{path}.username", f"{problem} (set by {ENV_USERNAME})", username)
    if ctx.env.get(ENV_PASSWORD):
        password = ctx.env[ENV_PASSWORD]
        problem = mqtt_text_problem(password, binary=True)
        if problem:
            ctx.add(f"{path}.password", f"{problem} (set by {ENV_PASSWORD})", "***")
    if password is not None and username is None and ctx.ok(f"{path}.username"):
        ctx.add(f"{path}.username", f"required when a password is set (in the file or {ENV_USERNAME})")
    if username != mqtt.username:
        changes["username"] = username
    if password != mqtt.password:
        changes["password"] = password
    return dataclasses.replace(mqtt, **changes) if changes else mqtt


def check_lights(ctx: Ctx, lights: LightsSettings, path: str) -> LightsSettings:
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


def check_wled(ctx: Ctx, wled: WledSettings, path: str) -> WledSettings:
    if wled.enabled and not wled.topics and ctx.ok(f"{path}.topics"):
        ctx.add(f"{path}.topics", f"must list at least one WLED topic when {path}.enabled is true", [])
    return wled


# What each realtime protocol can address (ddp: a 32-bit byte offset, far beyond these bounds).
_REALTIME_LIMITS = {
    "warls": (254, "WARLS addresses LEDs by a one-byte index: start + leds must be at most 255"),
    "drgb": (489, "DRGB carries at most 490 LEDs, always from LED 0: use dnrgb or ddp for a segment further on"),
}


def check_realtime_device(ctx: Ctx, device: RealtimeDevice, path: str) -> RealtimeDevice:
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


def _check_realtime(ctx: Ctx, settings: Settings) -> None:
    """LED devices: the strip must fit the protocol, and no device may be the bridge's own UDP port."""
    lights, udp, path = settings.lights, settings.udp, "lights.realtime"
    if not ctx.ok(path):
        return
    if len(lights.realtime) > MAX_REALTIME_DEVICES:
        count = Shape(f"{len(lights.realtime)} devices")
        ctx.add(path, f"at most {MAX_REALTIME_DEVICES} devices are supported", count)
        return
    first: dict[tuple[tuple[str, int], int], int] = {}
    for index, device in enumerate(lights.realtime):
        item = f"{path}[{index}]"
        if device.leds is None and ctx.ok("lights.leds"):
            check_realtime_device(ctx, dataclasses.replace(device, leds=lights.leds), item)
        segment = (device.target, device.start)
        if segment in first:  # one segment driven twice: the two frames would fight
            ctx.add(f"{item}.target", f"drives the same device from the same start as {path}[{first[segment]}]; "
                    "give each segment its own start", format_hostport(*device.target))
        first.setdefault(segment, index)
    if ctx.ok("udp.bind", "udp.port"):
        targets = [device.target for device in lights.realtime]
        for index, message in sorted(self_loop_problems(targets, udp.bind, udp.port).items()):
            ctx.add(f"{path}[{index}].target", realtime_loop_message(message),
                    format_hostport(*targets[index]))


def _check_topic(ctx: Ctx, key: str, value: str, longest_topic: str) -> None:
    """The longest topic built from `value` must pass the topic module's own check (the same length bound)."""
    try:
        checked(longest_topic)
    except TopicError:
        size = len(longest_topic.encode("utf-8"))
        fits = len(value.encode("utf-8")) - (size - MAX_TOPIC)
        message = f"too long: topics built from it reach {size} bytes, over the {MAX_TOPIC}-byte limit"
        ctx.add(key, f"{message}; at most {max(fits, 0)} characters fit here", value)


def _check_topic_lengths(ctx: Ctx, settings: Settings) -> None:
    mqtt, ha = settings.mqtt, settings.homeassistant
    relative = [(f, f.topic(car=99)) for f in CATALOG]  # car indices have at most two digits
    if ctx.ok("mqtt.base_topic", "mqtt.rig"):
        topics = [f"{mqtt.root_topic}/{path}" for _, path in relative]
        if ha.enabled:  # Home Assistant's rate-limited copies of its entities' values live under <root>/ha/
            topics += [f"{mqtt.root_topic}/ha/{path}" for f, path in relative if f.ha is not None]
        longest = max(topics, key=len)
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


def check_settings(ctx: Ctx, settings: Settings, path: str) -> Settings:
    ha = settings.homeassistant
    if ha.enabled and "cars" in ha.groups and settings.publish.cars == "none" and ctx.ok("publish.cars"):
        ctx.add("homeassistant.groups", "includes cars but publish.cars is none, so no car topics exist")
    _check_topic_lengths(ctx, settings)
    _check_realtime(ctx, settings)
    return settings


GT7_LISTEN_PORT = 33740  # where GT7's console sends its packets: the bridge's UDP port when it links to one


def check_games(ctx: Ctx, settings: Settings, path: str) -> Settings:
    """`games.gt7.console` means the bridge reads GT7 from that console: `udp.game` auto becomes gt7 (another game
    is a problem), and `udp.port`, unless given, is the port the console sends to."""
    if settings.games.gt7.console is None:
        return settings
    udp = settings.udp
    if udp.game not in ("auto", "gt7"):
        ctx.add("games.gt7.console", f"links the bridge to GT7, but udp.game is {udp.game} (use gt7 or auto)")
        return settings
    port = udp.port if ctx.given("udp.port") else GT7_LISTEN_PORT
    return dataclasses.replace(settings, udp=dataclasses.replace(udp, game="gt7", port=port))
