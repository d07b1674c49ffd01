"""Why the broker link failed, in words a person can act on: a login or certificate refused, a publish refused
(by MQTT 5 reason code, per topic group), a TLS client at a plain listener or the reverse, and a client id
another connection took over."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from typing import Any

from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import CONNACK
from paho.mqtt.reasoncodes import ReasonCode

from bridge.settings import MqttSettings

# CONNACK codes that mean "fix your configuration", in MQTT 3.1.1 (4, 5) and MQTT 5 (134, 135, 138, 140).
AUTH_CODES = {4, 5, 134, 135, 138, 140}
SESSION_TAKEN_OVER = 0x8E  # MQTT 5 DISCONNECT reason: another connection logged in with our client id
# Not every broker says "session taken over" (mosquitto 2.0 just closes the connection; MQTT 3.1.1 has no
# reasons at all): this many sessions in a row closed within SHORT_SESSION_S of connecting are taken as one.
SHORT_SESSION_S = 5.0
SHORT_SESSIONS_IN_A_ROW = 3
PROBE_TIMEOUT_S = 3.0  # a diagnostic connection after a failed connect (TLS on a plain port, or the reverse)
MQTT_PROBE_CONNECT = bytes.fromhex("100c00044d5154540402003c0000")  # MQTT 3.1.1 CONNECT, clean, empty client id


def _reason_code(exc: BaseException) -> int | None:
    rc = getattr(exc, "rc", None)
    return getattr(rc, "value", rc) if rc is not None else None


def describe_failure(exc: BaseException, mqtt: MqttSettings) -> tuple[str, bool]:
    """(message a person can act on, fatal at start?)."""
    where = f"{mqtt.host}:{mqtt.port}"
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (
            f"TLS certificate of broker {where} could not be verified ({cause or exc}): set mqtt.tls.ca_file to the "
            "CA that signed it, or mqtt.tls_insecure: true to skip verification (unsafe)",
            True,
        )
    # Only a CONNACK says anything about credentials: a publish on a lost connection fails with paho's
    # MQTT_ERR_NO_CONN, which is 4 too.
    if isinstance(exc, MqttConnectError) and _reason_code(exc) in AUTH_CODES:
        user = mqtt.username or "(no username)"
        return (
            f"broker {where} rejected the login for user {user} ({exc}): check mqtt.username and the password "
            "(RIGBRIDGE_MQTT_PASSWORD, mqtt.password_file or mqtt.password) and the broker's password file",
            True,
        )
    if isinstance(exc, MqttConnectError):
        return f"broker {where} refused the connection: {exc}", False
    return f"broker {where} unreachable or connection lost: {exc}", False


def describe_takeover(disconnect_reason: Any, short_sessions: int, client_id: str) -> str | None:
    """Why the broker keeps ending our sessions, when it looks like another client has our client id: it said
    so (`disconnect_reason`, as paho reported it), or it closed `short_sessions` in a row soon after accepting."""
    who = (
        f"another client with the same client id ({client_id}) took over: two bridges (or a bridge "
        "and another program) share mqtt.client_id; give each its own, or leave it empty for a generated one"
    )
    if getattr(disconnect_reason, "value", disconnect_reason) == SESSION_TAKEN_OVER:
        return who
    if short_sessions >= SHORT_SESSIONS_IN_A_ROW:
        return (
            f"the broker closed the connection {short_sessions} times in a row within "
            f"{SHORT_SESSION_S:g} s of accepting it: most likely {who}; or the broker refuses something the "
            "bridge sends (under MQTT 3.1.1, a packet above its max_packet_size): its log says which"
        )
    return None


def reason_slug(reason: ReasonCode) -> str:
    """`not_authorized` for "Not authorized": a metric label from MQTT 5's fixed table of reason names."""
    return re.sub(r"[^a-z0-9]+", "_", reason.getName().lower()).strip("_")


def topic_group(topic: str, root: str) -> str:
    """The part of the topic tree a message belongs to, as an ACL would name it: `<root>/cars/#`,
    `<root>/status`, `homeassistant/#`. Refusals and skips are logged once per group, not once per topic."""
    if topic.startswith(root + "/"):
        head, _, rest = topic[len(root) + 1 :].partition("/")
        return f"{root}/{head}/#" if rest else f"{root}/{head}"
    return topic.split("/", 1)[0] + "/#"


async def speaks_tls(host: str, port: int) -> bool:
    """Whether `host:port` completes a TLS handshake (certificate not checked: this only asks what it speaks)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), PROBE_TIMEOUT_S)
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True


async def speaks_plain_mqtt(host: str, port: int) -> bool:
    """Whether `host:port` answers an unencrypted MQTT CONNECT with a CONNACK (of any return code)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT_S)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(MQTT_PROBE_CONNECT)
        first = await asyncio.wait_for(reader.read(1), PROBE_TIMEOUT_S)
        return first[:1] == bytes([CONNACK])  # of any return code: it speaks plain MQTT
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def transport_mismatch(mqtt: MqttSettings) -> str | None:
    """After a connect failed before the broker answered: a TLS client at a plain listener, or the reverse?

    Either way the client sees only "Connection reset by peer" or a timeout; asking the port directly which
    one it speaks turns that into a message a person can act on."""
    where = f"{mqtt.host}:{mqtt.port}"
    if mqtt.tls.enabled and await speaks_plain_mqtt(mqtt.host, mqtt.port):
        return (
            f"the broker at {where} did not complete a TLS handshake: that port is a plain (non-TLS) listener; "
            "use the broker's TLS port, or set mqtt.tls.enabled: false"
        )
    if not mqtt.tls.enabled and await speaks_tls(mqtt.host, mqtt.port):
        return (
            f"the broker at {where} expects TLS: that port is a TLS listener; set mqtt.tls.enabled: true "
            "(and mqtt.tls.ca_file), or use the broker's plain port"
        )
    return None

