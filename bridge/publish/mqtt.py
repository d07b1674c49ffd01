"""The broker connection: availability, reconnects with backoff, the retained snapshot, and the sender.

One task owns the connection. On every (re)connect it publishes `status=online` (the Last Will says `offline`),
resets the outbox (the outputs offer everything again from memory), then sends what the outputs offer. A dead
connection is noticed within about 1.5x keepalive even when we only publish: a QoS 1 heartbeat must be
acknowledged within half a keepalive. Credentials or TLS rejected on the first connection are a configuration
problem and end the program with a message a person can act on; any later network trouble is retried forever
with exponential backoff and jitter, one log line per change of state (`diagnosis` says what went wrong).

What the broker refuses is made visible rather than retried: a message larger than the broker's Maximum Packet
Size (MQTT 5 CONNACK) is skipped, and a QoS 1 publish refused with an MQTT 5 reason code (an ACL's "not
authorized") is settled; both are counted by reason in `BridgeStatus` and logged once per topic group. What comes
in is bounded too: the CONNECT asks for packets of at most MAX_INCOMING_BYTES, and larger ones (MQTT 3.1.1 has no
such property) are read through and dropped without being kept (`paho_io`). A broker that hands our client id to
another connection (session taken over) makes the link back off for long instead of fighting. Other instances
under the same rig root are tracked by `instances`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_ERR_SUCCESS
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bridge.faults import Faults
from bridge.publish.diagnosis import (
    SHORT_SESSION_S,
    describe_failure,
    describe_takeover,
    reason_slug,
    topic_group,
    transport_mismatch,
)
from bridge.publish.instances import RigPeers
from bridge.publish.outbox import Message, Outbox
from bridge.publish.paho_io import PacketIds, drop_oversize_reads, no_delay, paho_of, properties, watch_connection
from bridge.publish.policy import TopicPolicy
from bridge.publish.sender import BATCH, Sender
from bridge.publish.wire import PublishEncoder
from bridge.settings import MqttSettings, Settings
from bridge.status import BridgeStatus

log = logging.getLogger("rigbridge.mqtt")

# The bridge subscribes only to small control topics (Home Assistant's status, WLED commands, its own status):
# anything larger is a mistake or an attack, and must not cost its size in memory.
MAX_INCOMING_BYTES = 256 * 1024
# Backoff after a session takeover: long, so that two bridges sharing a client id stop kicking each other off.
TAKEOVER_MIN_S = 30.0
TAKEOVER_MAX_S = 600.0
GOODBYE_WAIT_S = 1.0  # at stop: how long to wait for our own `bye` to come back through the broker
MAX_TOPIC_GROUPS = 32  # topic groups logged separately for refusals and oversize messages


class FatalMqttError(Exception):
    """The broker rejected us for a reason retrying cannot fix (credentials, TLS verification)."""


class LinkTaskFailed(Exception):
    """One of the link's own tasks (sender, heartbeat, listener) raised: reported, and the session started afresh."""

    def __init__(self, task: str, error: BaseException) -> None:
        super().__init__(f"the {task} failed ({error!r})")
        self.task = task
        self.error = error


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


class MqttLink:
    """Runs the connection until `stop` is set; then flushes, says `bye` to other instances of the rig, publishes
    `offline` (unless another instance still runs) and disconnects cleanly.

    Its own tasks (sender, heartbeat, listener) are watched: an exception in one is reported to `faults` and the
    session starts afresh; a reader's exception on one incoming message is reported and the next one is read."""

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        status: BridgeStatus,
        *,
        policy: TopicPolicy | None = None,
        on_connect: Callable[[aiomqtt.Client], Awaitable[None]] | None = None,
        on_message: Callable[[aiomqtt.Message], None] | None = None,
        subscriptions: tuple[str, ...] = (),
        faults: Faults | None = None,
    ) -> None:
        self.settings = settings
        self.mqtt = settings.mqtt
        self.outbox = outbox  # what waits to go out; what the broker has
        self.policy = policy if policy is not None else TopicPolicy(settings)
        root = self.policy.root
        self.status = status
        self.faults = faults if faults is not None else Faults()
        self.status_topic = f"{root}/status"
        self.heartbeat_topic = f"{root}/bridge/uptime_s"
        self.instance_topic = f"{root}/instance"
        self.peers = RigPeers(self.mqtt.client_id)
        self._on_connect = on_connect
        self._on_message = on_message
        self._subscriptions = subscriptions
        self._wake = asyncio.Event()
        self._backoff = Backoff(self.mqtt.reconnect_min_s, self.mqtt.reconnect_max_s)
        takeover_min = max(TAKEOVER_MIN_S, self.mqtt.reconnect_max_s)
        self._takeover_backoff = Backoff(takeover_min, max(TAKEOVER_MAX_S, takeover_min))
        self._expiry: Properties | None = None
        if self.policy.expiry:
            self._expiry = properties(PacketTypes.PUBLISH)
            self._expiry.MessageExpiryInterval = self.policy.expiry_s
        self.connected = asyncio.Event()
        self.connections = 0
        self.client: aiomqtt.Client | None = None  # the live connection, while there is one
        self.max_packet_size: int | None = None  # the broker's, from its CONNACK (MQTT 5); None: no limit said
        self._disconnect_reason: Any = None  # the reason of the last disconnection, as paho reported it
        self._ids: PacketIds | None = None  # the live connection's message ids, and what waits for their reports
        self._groups: set[str] = set()  # topic groups logged separately (bounded)
        self._stopping = False  # the goodbye has begun: `offline` seen now is not a reason to say `online`
        self._diagnosed = False  # the transport was probed after this run of failed connects
        self._session_started = 0.0  # monotonic time of the last CONNACK
        self._short_sessions = 0  # sessions in a row that the broker ended within SHORT_SESSION_S

    def wake(self) -> None:
        """Something is pending in the outbox (called synchronously after each packet)."""
        self._wake.set()

    def _client(self) -> aiomqtt.Client:
        m = self.mqtt
        connect = None
        if m.protocol == 5:
            connect = properties(PacketTypes.CONNECT)
            connect.MaximumPacketSize = MAX_INCOMING_BYTES  # the broker drops larger messages for us
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
            properties=connect,
        )
        client.pending_calls_threshold = BATCH  # we keep at most one batch in flight, by design
        self._watch(client)
        return client

    def _watch(self, client: aiomqtt.Client) -> None:
        """Hear what aiomqtt does not pass on: the broker's limits, why it disconnected us, PUBACK reason codes
        (`PacketIds`); and drop oversize incoming messages as they are read. aiomqtt's handlers still run."""
        paho = paho_of(client)
        self.max_packet_size = None
        self._disconnect_reason = None

        def connected(props: Properties | None) -> None:
            self.max_packet_size = getattr(props, "MaximumPacketSize", None)

        def disconnected(reason: ReasonCode) -> None:
            self._disconnect_reason = reason

        def dropped(size: int) -> None:
            self.faults.warn("mqtt.receive", "oversize", f"dropped a {size}-byte message from the broker unread: "
                             f"the bridge takes at most {MAX_INCOMING_BYTES} bytes per message")

        watch_connection(paho, connected, disconnected)
        self._ids = PacketIds(paho)
        drop_oversize_reads(paho, MAX_INCOMING_BYTES, dropped)

    def _set_state(self, state: str, detail: str = "", level: int = logging.INFO) -> None:
        if self.status.broker_state != state:
            self.status.broker_state = state
            where = f"{self.mqtt.host}:{self.mqtt.port}"
            log.log(level, "broker %s %s%s", where, state, f": {detail}" if detail else "")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            reached = False  # the broker answered the CONNECT: a failure after that is not the transport's
            try:
                async with self._client() as client:
                    reached = True
                    self.client = client
                    try:
                        await self._session(client, stop)
                    finally:
                        self.client = None
                    return  # stopped cleanly
            except aiomqtt.MqttError as exc:
                internal = False
                message, fatal = describe_failure(exc, self.mqtt)
                if fatal and self.connections == 0:  # never connected: a configuration problem
                    self._set_state("stopped", message)
                    raise FatalMqttError(message) from exc
                if not reached and not isinstance(exc, MqttConnectError) and not self._diagnosed:
                    self._diagnosed = True
                    hint = await transport_mismatch(self.mqtt)
                    if hint is not None:
                        log.warning("%s", hint)
            except Exception as exc:  # a bug of ours in a session: report it, connect afresh
                task, error = (exc.task, exc.error) if isinstance(exc, LinkTaskFailed) else ("session", exc)
                self.faults.error(f"mqtt.{task}", error, f"the broker link's {task} failed: {error!r}")
                message = f"connecting afresh after the {task} failed ({error!r})"
                internal = True
            self.status.broker_connected = False
            self.connected.clear()
            if reached:
                self._diagnosed = False
            short = reached and not internal and time.monotonic() - self._session_started < SHORT_SESSION_S
            self._short_sessions = self._short_sessions + 1 if short else 0
            taken_over = describe_takeover(self._disconnect_reason, self._short_sessions, self.mqtt.client_id)
            if taken_over is not None:
                delay = self._takeover_backoff.next()
                self._set_state("reconnecting", f"{taken_over}. Not fighting over it: retrying in {delay:.0f} s",
                                logging.WARNING)
            else:
                self._takeover_backoff.reset()
                delay = self._backoff.next()
                self._set_state("reconnecting", f"{message}; retrying in {delay:.1f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        self._set_state("stopped")

    async def _session(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        self.connections += 1
        self._session_started = time.monotonic()
        self._stopping = False
        no_delay(client)
        if self.connections > 1:
            self.status.reconnects += 1
        await self._say_online(client)
        self.peers.live.clear()  # who stopped while we were away never said `bye` to us: ask afresh
        for topic in (self.status_topic, self.instance_topic, *self._subscriptions):
            await client.subscribe(topic, qos=1)
        await self._publish_acked(client, self.instance_topic, self.peers.says("hello"))
        self.status.broker_connected = True
        self.connected.set()
        self._set_state("connected")
        self._backoff.reset()
        self.outbox.reset()  # the broker may have lost everything: the outputs offer it all again (on_connect)
        if self._on_connect is not None:
            await self._on_connect(client)
        self._wake.set()
        sender = asyncio.create_task(self._send_loop(self._packet_ids(), stop))
        tasks = {
            sender: "sender",
            asyncio.create_task(self._heartbeat(client)): "heartbeat",
            asyncio.create_task(self._listen(client)): "listener",
        }
        try:
            # The sender returns once stop is set and the last values are out; the others only end by failing.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if sender in done and sender.exception() is None:
                await self._goodbye(client)  # while the listener still hears the other instances
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if isinstance(error, aiomqtt.MqttError):
                raise error
            if error is not None:
                raise LinkTaskFailed(tasks[task], error) from error
            if task is not sender:
                raise aiomqtt.MqttError(f"the {tasks[task]} ended")
        self.status.broker_connected = False
        self.connected.clear()

    async def _say_online(self, client: aiomqtt.Client) -> None:
        reason = await self._publish_acked(client, self.status_topic, "online", retain=True)
        if reason.is_failure:
            log.error(
                "the broker refused %s online (%s): Home Assistant and every other subscriber will see this rig as "
                "offline; allow client id %s%s to publish there in the broker's ACL",
                self.status_topic, reason, self.mqtt.client_id,
                f" (user {self.mqtt.username})" if self.mqtt.username else "",
            )  # fmt: skip

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """Say `bye` to the other instances, then `offline`, unless another instance of this rig still runs."""
        self._stopping = True
        self.peers.goodbye_seen.clear()
        await self._publish_acked(client, self.instance_topic, self.peers.says("bye"))
        # Once our own `bye` comes back, any `bye` another instance sent before it has reached us too.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.peers.goodbye_seen.wait(), GOODBYE_WAIT_S)
        if self.peers.live:
            log.info(
                "leaving %s online: another instance (client id %s) still publishes under %s",
                self.status_topic, ", ".join(sorted(self.peers.live.values())), self.policy.root,
            )  # fmt: skip
            return
        await self._publish_acked(client, self.status_topic, "offline", retain=True)

    async def _publish_acked(
        self, client: aiomqtt.Client, topic: str, payload: str, *, retain: bool = False, timeout: float | None = None
    ) -> ReasonCode:
        """Publish at QoS 1 and wait for the broker's PUBACK; a refusal (MQTT 5 reason code) is counted and logged.

        aiomqtt's `publish()` waits for the PUBACK but drops its reason code, so a refused `online` would pass
        as published."""
        ids = self._packet_ids()
        future: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()

        def acknowledged(reason: ReasonCode) -> None:
            if not future.done():
                future.set_result(reason)

        info = ids.publish(topic, payload, 1, retain, None, acknowledged)
        if info.rc != MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, f"could not publish to {topic}")
        lost = client._disconnected  # aiomqtt's "connection ended" future: stop waiting then
        try:
            done, _ = await asyncio.wait(
                (future, lost), timeout=timeout if timeout is not None else client.timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )  # fmt: skip
        finally:
            ids.forget(info.mid)
        if future not in done:
            why = "the connection was lost" if lost in done else "operation timed out"
            raise aiomqtt.MqttError(f"no acknowledgement for {topic}: {why}")
        reason = future.result()
        if reason.is_failure:
            self._refused(topic, reason)
        return reason

    def _group(self, topic: str) -> str:
        group = topic_group(topic, self.policy.root)
        if group not in self._groups:
            if len(self._groups) >= MAX_TOPIC_GROUPS:
                return "other topics"
            self._groups.add(group)
        return group

    def _refused(self, topic: str, reason: ReasonCode) -> None:
        """The broker answered a QoS 1 publish with an error reason code: settled, counted, logged per group."""
        slug = reason_slug(reason)
        self.status.publish_failures += 1
        self.status.publish_failures_by_reason[slug] += 1
        group = self._group(topic)
        who = f"client id {self.mqtt.client_id}" + (f", user {self.mqtt.username}" if self.mqtt.username else "")
        hint = "check its ACL for this client" if slug == "not_authorized" else "check the broker's log"
        self.faults.warn("mqtt.refused", f"{slug} {group}", f"the broker refused {group} ({reason}): {hint} ({who})")

    def _oversize(self, message: Message, size: int) -> None:
        """Larger than the broker takes: sending it would only get the connection closed. Skipped, counted."""
        self.status.oversize_skipped += 1
        self.status.publish_failures += 1
        self.status.publish_failures_by_reason["oversize"] += 1
        group = self._group(message.topic)
        self.faults.warn(
            "mqtt.oversize", group,
            f"skipped a {size}-byte message on {message.topic}: the broker accepts packets of at most "
            f"{self.max_packet_size} bytes (its max_packet_size); larger messages of {group} are skipped and "
            "counted as oversize",
        )  # fmt: skip

    def _packet_ids(self) -> PacketIds:
        """The message ids of the connection being made or used (one connection at a time)."""
        if self._ids is None:
            raise aiomqtt.MqttError("not connected")
        return self._ids

    async def _send_loop(self, ids: PacketIds, stop: asyncio.Event) -> None:
        """Hand pending values to the client as they appear (`Sender`), until stop or the connection fails."""
        sender = Sender(
            ids, self.outbox, self.status, self._wake, stop,
            encoder=PublishEncoder(self.mqtt.protocol, self.settings.publish.expiry_s),
            expiry=self._expiry,
            max_packet_size=self.max_packet_size,
            refused=self._refused,
            oversize=self._oversize,
        )  # fmt: skip
        await sender.run()

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        """A QoS 1 message every half keepalive, acknowledged within half a keepalive, or the link is dead."""
        interval = self.mqtt.keepalive / 2
        while True:
            await asyncio.sleep(interval)
            uptime = f"{self.status.uptime_s:.0f}"
            await self._publish_acked(client, self.heartbeat_topic, uptime, timeout=interval)

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Messages on the subscribed topics: our own status and instance topics, then the readers' ones. A
        reader's failure on one message is reported and the next message is read."""
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            if topic == self.instance_topic:
                await self._heard_instance(client, payload)
            elif topic == self.status_topic:
                await self._heard_status(client, payload, message.retain)
            elif self._on_message is not None:
                try:
                    self._on_message(message)
                except Exception as exc:  # one bad message (or reader bug) must not cut the link
                    self.faults.error("mqtt.on_message", exc, f"handling a message on {topic[:200]} failed: {exc!r}")

    async def _heard_instance(self, client: aiomqtt.Client, payload: bytes) -> None:
        reply, newcomer = self.peers.heard(payload)
        if newcomer is not None:
            self.faults.warn(
                "mqtt.instances", "another_instance",
                f"another rigbridge instance (client id {newcomer}) publishes under {self.policy.root} too: the two "
                "overwrite each other's topics; give each bridge its own mqtt.rig (or stop one)",
            )  # fmt: skip
        if reply is not None and not self._stopping:
            await self._publish_acked(client, self.instance_topic, self.peers.says(reply))

    async def _heard_status(self, client: aiomqtt.Client, payload: bytes, retained: bool) -> None:
        """`offline` on our status while we run: another instance stopped, or its Last Will (or an old one of
        ours) fired. We are online: say so again, and ask which other instances are still there."""
        if retained or payload != b"offline" or self._stopping:
            return
        self.peers.live.clear()
        await self._say_online(client)
        await self._publish_acked(client, self.instance_topic, self.peers.says("hello"))
