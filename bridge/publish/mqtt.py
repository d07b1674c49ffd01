"""The broker connection: availability, reconnects with backoff, the retained snapshot, and the sender.

One task owns the connection. On every (re)connect it publishes `status=online` (the Last Will says `offline`),
asks the engine for the full snapshot from memory, then sends deltas as the engine produces them. A dead
connection is noticed within about 1.5x keepalive even when we only publish: a QoS 1 heartbeat must be
acknowledged within half a keepalive. Credentials or TLS rejected on the first connection are a configuration
problem and end the program with a message a person can act on; any later network trouble is retried forever
with exponential backoff and jitter, one log line per change of state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS, PUBLISH, MQTTMessageInfo
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bridge.config import MqttSettings, Settings
from bridge.publish.engine import Message, PublishEngine
from bridge.publish.wire import PublishEncoder
from bridge.status import BridgeStatus

log = logging.getLogger("rigbridge.mqtt")

STOP_FLUSH_S = 2.0
BATCH = 512  # messages unconfirmed at once; the rest stay in the latest-wins map meanwhile
SLICE = 32  # messages handed to the client per event-loop turn, so a snapshot never holds up a datagram
# CONNACK codes that mean "fix your configuration", in MQTT 3.1.1 (4, 5) and MQTT 5 (134, 135, 138, 140).
AUTH_CODES = {4, 5, 134, 135, 138, 140}


class FatalMqttError(Exception):
    """The broker rejected us for a reason retrying cannot fix (credentials, TLS verification)."""


class Backoff:
    """Exponential backoff with full jitter and a cap; `reset()` after a success."""

    def __init__(self, minimum: float, maximum: float, rng: random.Random | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum
        self._rng = rng or random.Random()
        self._ceiling = minimum

    def next(self) -> float:
        delay = self._rng.uniform(self.minimum, self._ceiling)
        self._ceiling = min(self.maximum, self._ceiling * 2)
        return delay

    def reset(self) -> None:
        self._ceiling = self.minimum


def tls_context(mqtt: MqttSettings) -> ssl.SSLContext | None:
    if not mqtt.tls.enabled:
        return None
    context = ssl.create_default_context(cafile=mqtt.tls.ca_file)
    if mqtt.tls.cert_file:
        context.load_cert_chain(mqtt.tls.cert_file, mqtt.tls.key_file)
    if mqtt.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


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


def no_delay(client: aiomqtt.Client) -> None:
    """Send every message at once. paho leaves Nagle's algorithm on, and Nagle holds a small write back while an
    earlier one is unacknowledged; the broker acknowledges QoS 0 data only with a delayed ACK (up to 40 ms on
    Linux), so a rev-light message could wait that long behind the one before it."""
    sock = client._client.socket()  # noqa: SLF001 - see _send_loop
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def write_packets(paho: PahoClient, data: bytes, mid: int) -> int:
    """Queue `data` (PUBLISH packets) in paho's write queue under message id `mid`, and write it at once.

    paho's own path asks the event loop, through a thread-safe call, to watch the socket, and writes when it says
    the socket is writable: three more loop turns and four system calls per batch. The socket almost always
    has room, so we write now; whatever does not fit paho leaves queued and has the loop watch the socket for.
    """
    info = MQTTMessageInfo(mid)
    if paho._registered_write:  # noqa: SLF001
        # paho already waits for the socket (data that did not fit, or its own publish): queue behind that.
        # Writing now would also drop the loop's watch before aiomqtt (thread-safely, later) adds it, and a watch
        # added after the drop is never removed: the loop would call the writer on every turn.
        return paho._packet_queue(PUBLISH, data, mid, 0, info)  # noqa: SLF001
    packet = {"command": PUBLISH, "mid": mid, "qos": 0, "pos": 0, "to_process": len(data), "packet": data,
              "info": info}  # fmt: skip
    paho._out_packet.append(packet)  # noqa: SLF001 - the packet shape of paho's _packet_queue()
    return paho.loop_write()


class MqttLink:
    """Runs the connection until `stop` is set; then flushes, publishes `offline` and disconnects cleanly."""

    def __init__(
        self,
        settings: Settings,
        engine: PublishEngine,
        status: BridgeStatus,
        *,
        on_connect: Callable[[aiomqtt.Client], Awaitable[None]] | None = None,
        on_message: Callable[[aiomqtt.Message], None] | None = None,
        subscriptions: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.mqtt = settings.mqtt
        self.engine = engine
        self.status = status
        self.status_topic = f"{engine.root}/status"
        self.heartbeat_topic = f"{engine.root}/bridge/uptime_s"
        self._on_connect = on_connect
        self._on_message = on_message
        self._subscriptions = subscriptions
        self._wake = asyncio.Event()
        self._backoff = Backoff(self.mqtt.reconnect_min_s, self.mqtt.reconnect_max_s)
        self._expiry: Properties | None = None
        if self.mqtt.protocol == 5 and settings.publish.expiry_s > 0:
            self._expiry = Properties(PacketTypes.PUBLISH)
            self._expiry.MessageExpiryInterval = settings.publish.expiry_s
        self.connected = asyncio.Event()
        self.connections = 0
        self.client: aiomqtt.Client | None = None  # the live connection, while there is one

    def wake(self) -> None:
        """The engine has something pending (called synchronously after each packet)."""
        self._wake.set()

    def _client(self) -> aiomqtt.Client:
        m = self.mqtt
        client = aiomqtt.Client(
            m.host,
            m.port,
            identifier=m.client_id,
            username=m.username,
            password=m.password,
            protocol=aiomqtt.ProtocolVersion.V5 if m.protocol == 5 else aiomqtt.ProtocolVersion.V311,
            keepalive=m.keepalive,
            will=aiomqtt.Will(self.status_topic, "offline", qos=1, retain=True),
            tls_context=tls_context(m),
            timeout=max(5.0, m.keepalive / 2),
            max_queued_outgoing_messages=10_000,  # paho's own queue, bounded as a last line of defence
        )
        client.pending_calls_threshold = BATCH  # we keep at most one batch in flight, by design
        return client

    def _set_state(self, state: str, detail: str = "") -> None:
        if self.status.broker_state != state:
            self.status.broker_state = state
            log.info("broker %s:%s %s%s", self.mqtt.host, self.mqtt.port, state, f": {detail}" if detail else "")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self._client() as client:
                    self.client = client
                    try:
                        await self._session(client, stop)
                    finally:
                        self.client = None
                    return  # stopped cleanly
            except aiomqtt.MqttError as exc:
                message, fatal = describe_failure(exc, self.mqtt)
                if fatal and self.connections == 0:  # never connected: a configuration problem
                    self._set_state("stopped", message)
                    raise FatalMqttError(message) from exc
                self.status.broker_connected = False
                self.connected.clear()
                delay = self._backoff.next()
                self._set_state("reconnecting", f"{message}; retrying in {delay:.1f} s")
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass
        self._set_state("stopped")

    async def _session(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        self.connections += 1
        no_delay(client)
        if self.connections > 1:
            self.status.reconnects += 1
        await client.publish(self.status_topic, "online", qos=1, retain=True)
        for topic in self._subscriptions:
            await client.subscribe(topic, qos=1)
        self.status.broker_connected = True
        self.connected.set()
        self._set_state("connected")
        self._backoff.reset()
        self.engine.snapshot()
        if self._on_connect is not None:
            await self._on_connect(client)
        self._wake.set()
        tasks = [
            asyncio.create_task(self._send_loop(client, stop)),
            asyncio.create_task(self._heartbeat(client)),
        ]
        if self._subscriptions:
            tasks.append(asyncio.create_task(self._listen(client)))
        try:
            # The sender returns once stop is set and the last values are out; the others only end by failing.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error if isinstance(error, aiomqtt.MqttError) else aiomqtt.MqttError(repr(error)) from error
        await client.publish(self.status_topic, "offline", qos=1, retain=True)
        self.status.broker_connected = False
        self.connected.clear()

    async def _send_loop(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Hand pending values to the client as soon as they appear, up to BATCH unconfirmed at a time.

        Messages go straight to the paho client inside aiomqtt: an aiomqtt `publish()` per message costs a task
        and an event, twice the whole cost of sending. The QoS 0 messages of a slice go as one packet of
        PUBLISH packets encoded by `PublishEncoder` (one write, one callback); QoS 1 ones through paho's
        `publish()`, which tracks their acknowledgements. paho tells us each packet's fate in `on_publish`
        (written to the socket for QoS 0, acknowledged for QoS 1); aiomqtt's own handler still runs first.
        """
        paho = client._client  # noqa: SLF001 - aiomqtt>=2,<3 keeps its paho client here
        outstanding: dict[int, list[Message]] = {}  # paho message id -> its messages, not yet confirmed
        unconfirmed = 0
        failure: list[BaseException] = []
        aiomqtt_on_publish = paho.on_publish
        encoder = PublishEncoder(self.mqtt.protocol, self.settings.publish.expiry_s)

        def confirmed(message: Message) -> None:
            self.engine.sent(message)
            self.status.published[message.rate] += 1
            if message.origin_ns:
                self.status.latency.observe((time.monotonic_ns() - message.origin_ns) / 1e9)

        def on_publish(c: object, userdata: object, mid: int, *rest: object) -> None:
            nonlocal unconfirmed
            aiomqtt_on_publish(c, userdata, mid, *rest)
            messages = outstanding.pop(mid, None)
            if messages is not None:
                full = unconfirmed >= BATCH
                unconfirmed -= len(messages)
                for message in messages:
                    confirmed(message)
                if full or stop.is_set():
                    self._wake.set()  # there is room again, or the stop flush is waiting for the last ones

        def hand_over(messages: list[Message], mid: int) -> None:
            nonlocal unconfirmed
            outstanding[mid] = messages
            unconfirmed += len(messages)

        def refused(messages: list[Message], rc: int, mid: int | None = None) -> bool:
            """paho did not take `messages` (or, handed over as `mid`, could not write them): pending again."""
            nonlocal unconfirmed
            if mid is not None:
                if outstanding.pop(mid, None) is None:
                    messages = []  # written (and confirmed) before the connection failed
                unconfirmed -= len(messages)
            put_back(messages)
            self.status.publish_failures += len(messages)
            failure.append(aiomqtt.MqttCodeError(rc, "could not publish"))
            return False

        def send_batch(messages: list[Message], packets: list[bytes]) -> bool:
            if not paho.is_connected():
                return refused(messages, MQTT_ERR_NO_CONN)
            mid = paho._mid_generate()  # noqa: SLF001 - a message id of paho's own, so on_publish can name it
            hand_over(messages, mid)  # before writing: a direct write reports back at once
            rc = write_packets(paho, b"".join(packets), mid)
            return rc == MQTT_ERR_SUCCESS or refused(messages, rc, mid)

        def send(batch: list[Message]) -> None:
            messages: list[Message] = []
            packets: list[bytes] = []
            for i, message in enumerate(batch):
                if message.qos == 0:
                    messages.append(message)
                    packets.append(encoder.encode(message.topic, message.payload, message.retain, message.expires))
                    continue
                if messages and not send_batch(messages, packets):  # what came before goes first
                    put_back(batch[i:])
                    return
                messages, packets = [], []
                properties = self._expiry if message.expires else None
                info = paho.publish(message.topic, message.payload, message.qos, message.retain, properties)
                if info.rc != MQTT_ERR_SUCCESS:
                    put_back(batch[i + 1 :])
                    refused([message], info.rc)  # after the rest: events go back to the front in order
                    return
                hand_over([message], info.mid)  # QoS 1: confirmed by the broker's PUBACK, later
            if messages:
                send_batch(messages, packets)

        def put_back(messages: list[Message]) -> None:
            """Back to the engine, unconfirmed: events return to the front of their queue, so the last goes first."""
            for message in reversed(messages):
                self.engine.failed(message)

        paho.on_publish = on_publish
        wake = self._wake

        async def wake_on_stop() -> None:
            await stop.wait()
            wake.set()

        stopper = asyncio.ensure_future(wake_on_stop())
        try:
            while not failure:
                free = min(BATCH - unconfirmed, SLICE)
                if free > 0 and self.engine.has_pending():
                    send(self.engine.take(free))
                    self.status.pending = self.engine.pending_size()
                    if self.engine.has_pending():
                        await asyncio.sleep(0)  # let waiting datagrams in between slices: realtime stays realtime
                    continue
                if stop.is_set():
                    deadline = time.monotonic() + STOP_FLUSH_S
                    while outstanding and time.monotonic() < deadline:
                        wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.wait(), deadline - time.monotonic())
                    if self.engine.has_pending() and time.monotonic() < deadline:
                        continue
                    return
                # One event wakes us for everything: new values (the pipeline), room again (on_publish), stop.
                wake.clear()
                await wake.wait()
            raise failure[0]
        finally:
            stopper.cancel()
            paho.on_publish = aiomqtt_on_publish
            for messages in reversed(outstanding.values()):  # never confirmed: the broker may not have them
                put_back(messages)  # newest first, so that queued events keep their order
                self.status.publish_failures += len(messages)

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        """A QoS 1 message every half keepalive, acknowledged within half a keepalive, or the link is dead."""
        interval = self.mqtt.keepalive / 2
        while True:
            await asyncio.sleep(interval)
            uptime = f"{self.status.uptime_s:.0f}"
            await client.publish(self.heartbeat_topic, uptime, qos=1, timeout=interval)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if self._on_message is not None:
                self._on_message(message)

