"""The shipped broker configuration, run by a real mosquitto: auth on, ACL as in acl.example, persistence, limits.

`mosquitto/mosquitto.conf` is rewritten only where a test run must differ from the container: the listener port (a
free loopback port instead of 1883), the password, ACL and persistence paths, and the log destination. Every other
line runs as shipped, and the rewrite fails loudly if one of the lines it replaces changes. `mosquitto/acl.example`
is used as the ACL unchanged.
"""

from __future__ import annotations

import os
import pwd
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "mosquitto" / "mosquitto.conf"
ACL = ROOT / "mosquitto" / "acl.example"


def _find(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


MOSQUITTO = _find("mosquitto")
MOSQUITTO_PASSWD = _find("mosquitto_passwd")

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(MOSQUITTO is None, reason="no mosquitto binary (Debian package: mosquitto)"),
]

# The accounts of acl.example, as config/rigbridge.compose.yaml and mosquitto/README.md name them.
RIG = "rig1"
USERS = {"rigbridge": "bridge-pw-1", "grafana": "dash-pw-2", "homeassistant": "ha-pw-3"}

PROTOCOLS = {"mqtt5": MQTTProtocolVersion.MQTTv5, "mqtt311": MQTTProtocolVersion.MQTTv311}
REFUSED = {"Not authorized", "Bad user name or password"}
TIMEOUT = 5.0


# --------------------------------------------------------------------------------------------------- the broker


def rewrite_conf(text: str, port: int, workdir: Path) -> str:
    """The shipped config with only the port, file paths and log destination replaced; each line must exist once."""
    replacements = {
        "listener 1883": f"listener {port} 127.0.0.1",
        "password_file /mosquitto/config/passwd": f"password_file {workdir / 'passwd'}",
        "acl_file /mosquitto/config/acl": f"acl_file {workdir / 'acl'}",
        "persistence_location /mosquitto/data/": f"persistence_location {workdir / 'data'}/",
        "log_dest stdout": f"log_dest file {workdir / 'mosquitto.log'}",
    }
    lines = text.splitlines()
    for old in replacements:
        count = sum(1 for line in lines if line.strip() == old)
        assert count == 1, f"{CONF.name}: expected the line {old!r} exactly once, found it {count} times"
    return "\n".join(replacements.get(line.strip(), line) for line in lines) + "\n"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _broker_account() -> pwd.struct_passwd | None:
    """As root, the broker runs as an unprivileged account like in its container; None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("mosquitto", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("running as root and neither a 'mosquitto' nor a 'nobody' account exists to run the broker as")


@dataclass
class Broker:
    workdir: Path
    port: int
    account: pwd.struct_passwd | None
    proc: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def persistence_file(self) -> Path:
        return self.workdir / "data" / "mosquitto.db"

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else "(no log file)"

    def start(self) -> None:
        assert MOSQUITTO is not None
        extra: dict[str, int] = {}
        if self.account is not None:
            extra = {"user": self.account.pw_uid, "group": self.account.pw_gid}
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.workdir / "mosquitto.conf")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.workdir,
            **extra,  # type: ignore[call-overload]
        )
        deadline = time.monotonic() + 10.0
        while True:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                pytest.fail(f"mosquitto exited with {self.proc.returncode} at start:\n{stderr}\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail(f"mosquitto did not listen on port {self.port} within 10 s:\n{self.log()}")
                time.sleep(0.02)

    def stop(self) -> int:
        """SIGTERM (a clean shutdown, which saves the persistence file) and wait; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        finally:
            self.kill()
        return code

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    assert MOSQUITTO_PASSWD is not None, "mosquitto is installed but mosquitto_passwd is not (package mosquitto)"
    account = _broker_account()
    # As root, the unprivileged broker cannot enter pytest's private tmp_path, so it gets its own directory.
    workdir = Path(tempfile.mkdtemp(prefix="rigbridge-mosquitto-")) if account else tmp_path
    broker = Broker(workdir, _free_port(), account)
    try:
        (workdir / "data").mkdir()
        (workdir / "mosquitto.conf").write_text(rewrite_conf(CONF.read_text(), broker.port, workdir))
        shutil.copyfile(ACL, workdir / "acl")
        passwd = workdir / "passwd"
        for index, (user, password) in enumerate(USERS.items()):
            create = ["-c"] if index == 0 else []
            subprocess.run(
                [MOSQUITTO_PASSWD, *create, "-b", str(passwd), user, password],
                check=True,
                capture_output=True,
                timeout=10,
            )
        if account is not None:
            for path in [workdir, *workdir.iterdir()]:
                os.chown(path, account.pw_uid, account.pw_gid)
        broker.start()
        yield broker
    finally:
        broker.kill()
        if workdir != tmp_path:
            shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------------- a client


class Client:
    """A paho client driven by its network thread, with blocking helpers for connect, subscribe and publish."""

    def __init__(
        self,
        port: int,
        user: str | None = None,
        password: str | None = None,
        *,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        will_topic: str | None = None,
    ) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connack_properties: Properties | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._published: dict[int, ReasonCode] = {}
        self._publish_done = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"deploy-test-{secrets.token_hex(4)}",
            protocol=protocol,
            reconnect_on_failure=False,
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        if will_topic is not None:
            self.client.will_set(will_topic, "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _client, _userdata, message: self.messages.put(message)
        self.reason: ReasonCode | None = None
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert self._connected.wait(TIMEOUT), "no CONNACK from the broker"

    def _on_connect(self, _c: mqtt.Client, _u: object, _flags: object, reason: ReasonCode, props: Properties) -> None:
        self.reason = reason
        self.connack_properties = props
        self._connected.set()

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _mid: int, _codes: object, _props: object) -> None:
        self._subscribed.set()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _props: object) -> None:
        with self._publish_done:
            self._published[mid] = reason
            self._publish_done.notify_all()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(TIMEOUT), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and wait for the PUBACK; returns its reason code (always success for MQTT 3.1.1)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self._publish_done:
            assert self._publish_done.wait_for(lambda: info.mid in self._published, TIMEOUT), f"no PUBACK: {topic}"
            return self._published[info.mid]

    def receive(self) -> tuple[str, str]:
        message = self.messages.get(timeout=TIMEOUT)
        return message.topic, message.payload.decode()

    def drop(self) -> None:
        """End the connection without a DISCONNECT, as a crashed client would: the broker publishes the Will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
        self.reason = None

    def close(self) -> None:
        if self.accepted:
            self.client.disconnect()
        self.client.loop_stop()


def connect(broker: Broker, user: str | None = None, password: str | None = None, **kwargs: object) -> Client:
    return Client(broker.port, user, password, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    """Collects the clients of a test and closes them all at its end."""
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


# --------------------------------------------------------------------------------------------------- tests


def test_rewrite_keeps_every_shipped_setting(tmp_path: Path) -> None:
    shipped = CONF.read_text().splitlines()
    rewritten = rewrite_conf(CONF.read_text(), 41883, tmp_path).splitlines()
    changed = [(a, b) for a, b in zip(shipped, rewritten, strict=True) if a != b]
    assert len(changed) == 5, changed

    settings = [line.split(None, 1) for line in shipped if line.strip() and not line.lstrip().startswith("#")]
    keys = {key for key, *_ in settings}
    values = {key: value.strip() for key, value in settings if key != "log_type"}
    assert values["per_listener_settings"] == "false"
    assert values["allow_anonymous"] == "false"
    assert values["persistence"] == "true"
    assert values["listener"] == "1883", "exactly one active listener, MQTT on 1883"
    for limit in ("max_queued_messages", "max_inflight_messages", "max_packet_size", "max_connections"):
        assert int(values[limit]) > 0, limit
    assert int(values["autosave_interval"]) > 0
    assert "message_size_limit" not in keys, "deprecated in mosquitto 2: use max_packet_size"


@pytest.mark.parametrize("protocol", PROTOCOLS.values(), ids=PROTOCOLS.keys())
def test_anonymous_client_is_refused(broker: Broker, clients: list[Client], protocol: MQTTProtocolVersion) -> None:
    client = connect(broker, protocol=protocol)
    clients.append(client)
    assert client.reason is not None and client.reason.is_failure
    assert client.reason.getName() in REFUSED


@pytest.mark.parametrize("protocol", PROTOCOLS.values(), ids=PROTOCOLS.keys())
def test_wrong_password_is_refused(broker: Broker, clients: list[Client], protocol: MQTTProtocolVersion) -> None:
    for user, password in (("rigbridge", "not-the-password"), ("nobody-here", USERS["rigbridge"])):
        client = connect(broker, user, password, protocol=protocol)
        clients.append(client)
        assert client.reason is not None and client.reason.is_failure, user
        assert client.reason.getName() in REFUSED, user


@pytest.mark.parametrize("protocol", PROTOCOLS.values(), ids=PROTOCOLS.keys())
def test_right_user_connects(broker: Broker, clients: list[Client], protocol: MQTTProtocolVersion) -> None:
    for user, password in USERS.items():
        client = connect(broker, user, password, protocol=protocol)
        clients.append(client)
        assert client.accepted, (user, client.reason)


def test_packet_size_limit_is_announced(broker: Broker, clients: list[Client]) -> None:
    client = connect(broker, "rigbridge", USERS["rigbridge"])
    clients.append(client)
    assert client.accepted
    assert client.connack_properties is not None
    assert getattr(client.connack_properties, "MaximumPacketSize", None) == 1_048_576


def test_bridge_writes_only_its_own_rig(broker: Broker, clients: list[Client]) -> None:
    bridge = connect(broker, "rigbridge", USERS["rigbridge"], will_topic=f"rigbridge/{RIG}/status")
    dashboard = connect(broker, "grafana", USERS["grafana"])
    clients += [bridge, dashboard]
    assert bridge.accepted and dashboard.accepted
    dashboard.subscribe("rigbridge/#")
    bridge.subscribe(f"rigbridge/{RIG}/#")

    # Messages from one publisher arrive in order: had the denied one been delivered, it would come first.
    denied = bridge.publish("rigbridge/rig2/player/speed_kph", "999")
    allowed = bridge.publish(f"rigbridge/{RIG}/player/speed_kph", "287")
    assert not allowed.is_failure
    assert denied.getName() == "Not authorized"
    assert dashboard.receive() == (f"rigbridge/{RIG}/player/speed_kph", "287")
    assert bridge.receive() == (f"rigbridge/{RIG}/player/speed_kph", "287")

    # Readers write nothing, not even below a rig.
    assert dashboard.publish(f"rigbridge/{RIG}/player/speed_kph", "1").getName() == "Not authorized"
    bridge.publish(f"rigbridge/{RIG}/player/gear", "7")
    assert dashboard.receive() == (f"rigbridge/{RIG}/player/gear", "7")
    assert dashboard.messages.empty()


def test_bridge_announces_only_its_own_device_to_home_assistant(broker: Broker, clients: list[Client]) -> None:
    bridge = connect(broker, "rigbridge", USERS["rigbridge"])
    home = connect(broker, "homeassistant", USERS["homeassistant"])
    clients += [bridge, home]
    home.subscribe("homeassistant/#")
    home.subscribe("rigbridge/#")
    bridge.subscribe("homeassistant/status")

    assert bridge.publish("homeassistant/device/rig2/config", "{}").getName() == "Not authorized"
    assert not bridge.publish(f"homeassistant/device/{RIG}/config", '{"dev": {}}').is_failure
    assert home.receive() == (f"homeassistant/device/{RIG}/config", '{"dev": {}}')

    # Home Assistant's birth message reaches the bridge, which then republishes its discovery.
    assert not home.publish("homeassistant/status", "online").is_failure
    assert home.receive() == ("homeassistant/status", "online")
    assert bridge.receive() == ("homeassistant/status", "online")


def test_will_is_published_only_inside_the_rig(broker: Broker, clients: list[Client]) -> None:
    dashboard = connect(broker, "grafana", USERS["grafana"])
    outside = connect(broker, "rigbridge", USERS["rigbridge"], will_topic="rigbridge/rig2/status")
    inside = connect(broker, "rigbridge", USERS["rigbridge"], will_topic=f"rigbridge/{RIG}/status")
    clients += [dashboard, outside, inside]
    assert outside.accepted and inside.accepted
    dashboard.subscribe("rigbridge/#")

    outside.drop()
    inside.drop()
    assert dashboard.receive() == (f"rigbridge/{RIG}/status", "offline")
    time.sleep(0.2)  # the other Will, had it been published, would have arrived by now
    assert dashboard.messages.empty(), dashboard.receive()


def test_retained_state_survives_a_clean_restart(broker: Broker, clients: list[Client]) -> None:
    bridge = connect(broker, "rigbridge", USERS["rigbridge"])
    assert not bridge.publish(f"rigbridge/{RIG}/session/track", "monaco", retain=True).is_failure
    bridge.close()

    # autosave_interval has not passed yet: the file written now comes from the clean shutdown.
    assert not broker.persistence_file.exists()
    assert broker.stop() == 0, broker.log()
    assert broker.persistence_file.is_file(), f"no persistence file after SIGTERM:\n{broker.log()}"
    assert broker.persistence_file.stat().st_size > 0

    broker.start()
    dashboard = connect(broker, "grafana", USERS["grafana"])
    clients.append(dashboard)
    dashboard.subscribe("rigbridge/#")
    assert dashboard.receive() == (f"rigbridge/{RIG}/session/track", "monaco")
