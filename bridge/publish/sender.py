"""The sender: pending values handed to the broker connection as soon as they appear, up to BATCH unconfirmed.

Messages go straight to the paho client inside aiomqtt: an aiomqtt `publish()` per message costs a task and an
event, twice the whole cost of sending. The QoS 0 messages of a slice go as one packet of PUBLISH packets encoded
by `PublishEncoder` (one write, one callback); QoS 1 ones through paho's `publish()`, which tracks their
acknowledgements. paho tells us each packet's fate in `on_publish` (written to the socket for QoS 0,
acknowledged for QoS 1, or refused with an MQTT 5 reason code), through `PacketIds`, the one owner of message
ids on the connection. A message larger than the broker's Maximum Packet Size is never handed over: the broker
would close the connection, and the snapshot after the reconnect would hold it again.

paho's internals (the client inside aiomqtt, its message ids, its write path) are `paho_io`'s alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from functools import partial

import aiomqtt
from paho.mqtt.client import MQTT_ERR_SUCCESS
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bridge.publish.outbox import Message, Outbox
from bridge.publish.paho_io import PacketIds
from bridge.publish.wire import PublishEncoder
from bridge.status import BridgeStatus

STOP_FLUSH_S = 2.0
BATCH = 512  # messages unconfirmed at once; the rest stay in the latest-wins map meanwhile
SLICE = 32  # messages handed to the client per event-loop turn, so a snapshot never holds up a datagram


class Handover:
    """Messages handed to paho as one packet (a batch of QoS 0 ones, or one QoS 1 message), until it reports."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages


class Sender:
    """Sends for one connection until `stop` is set (then flushes) or the connection fails (then raises).

    `wake` is the link's one event: set by the pipeline when values are pending, by `on_publish` when there is
    room again, and on stop. `refused(topic, reason)` and `oversize(message, size)` report what the broker will
    not take; either way the message is settled, not retried.
    """

    def __init__(
        self,
        ids: PacketIds,
        outbox: Outbox,
        status: BridgeStatus,
        wake: asyncio.Event,
        stop: asyncio.Event,
        *,
        encoder: PublishEncoder,
        expiry: Properties | None,
        max_packet_size: int | None,
        refused: Callable[[str, ReasonCode], None],
        oversize: Callable[[Message, int], None],
    ) -> None:
        self.ids = ids  # the connection's message ids: paho reports on what is handed over through them
        self.outbox = outbox  # what waits to go out; told what was sent or failed
        self.status = status
        self.wake = wake
        self.stop = stop
        self.encoder = encoder
        self.expiry = expiry  # the properties of a QoS 1 publish that expires (MQTT 5)
        self.max_packet_size = max_packet_size  # the broker's, from this connection's CONNACK
        self.refused = refused
        self.oversize = oversize
        self.outstanding: dict[Handover, None] = {}  # handed over, not yet reported on, oldest first
        self.unconfirmed = 0
        self.failure: BaseException | None = None  # the first write paho could not do: ends the loop

    async def run(self) -> None:
        outbox, wake, stop = self.outbox, self.wake, self.stop

        async def wake_on_stop() -> None:
            await stop.wait()
            wake.set()

        stopper = asyncio.ensure_future(wake_on_stop())
        try:
            while self.failure is None:
                free = min(BATCH - self.unconfirmed, SLICE)
                if free > 0 and outbox.has_pending():
                    self._send(outbox.take(free))
                    self.status.pending = outbox.pending_size()
                    if outbox.has_pending():
                        await asyncio.sleep(0)  # let waiting datagrams in between slices: realtime stays realtime
                    continue
                if stop.is_set():
                    deadline = time.monotonic() + STOP_FLUSH_S
                    while self.outstanding and time.monotonic() < deadline:
                        wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.wait(), deadline - time.monotonic())
                    if outbox.has_pending() and time.monotonic() < deadline:
                        continue
                    return
                # One event wakes us for everything: new values (the pipeline), room again (on_publish), stop.
                wake.clear()
                await wake.wait()
            raise self.failure
        finally:
            stopper.cancel()
            for handover in reversed(self.outstanding):  # never confirmed: the broker may not have them
                self._put_back(handover.messages)  # newest first, so that queued events keep their order
                self._count_lost(len(handover.messages))
            self.outstanding.clear()  # a report that comes after this is for messages already put back
            self.unconfirmed = 0

    # -- paho's report -------------------------------------------------------------------------------------

    def _reported(self, handover: Handover, reason: ReasonCode) -> None:
        if handover not in self.outstanding:
            return  # put back already: the run ended before paho reported
        del self.outstanding[handover]
        messages = handover.messages
        full = self.unconfirmed >= BATCH
        self.unconfirmed -= len(messages)
        if reason.is_failure:  # only a QoS 1 PUBACK can say so: one message
            for message in messages:
                self._settle(message)
                self.refused(message.topic, reason)
        else:
            for message in messages:
                self._confirmed(message)
        if full or self.stop.is_set():
            self.wake.set()  # there is room again, or the stop flush is waiting for the last ones

    def _confirmed(self, message: Message) -> None:
        self.outbox.sent(message)
        self.status.published[message.rate] += 1
        if message.origin_ns:
            self.status.latency.observe((time.monotonic_ns() - message.origin_ns) / 1e9)

    def _settle(self, message: Message) -> None:
        """Refused or skipped for good: the same value would be refused again, so it is not retried; a new value
        of the topic is tried afresh."""
        self.outbox.sent(message)

    # -- handing over --------------------------------------------------------------------------------------

    def _send(self, batch: list[Message]) -> None:
        messages: list[Message] = []
        packets: list[bytes] = []
        limit = self.max_packet_size
        encoder = self.encoder
        for i, message in enumerate(batch):
            if message.qos == 0:
                packet = encoder.encode(message.topic, message.payload, message.retain, message.expires)
                if limit is not None and len(packet) > limit:
                    self._settle(message)
                    self.oversize(message, len(packet))
                    continue
                messages.append(message)
                packets.append(packet)
                continue
            if limit is not None:
                size = encoder.size(message.topic, message.payload, message.qos, message.expires)
                if size > limit:
                    self._settle(message)
                    self.oversize(message, size)
                    continue
            if messages and not self._send_batch(messages, packets):  # what came before goes first
                self._put_back(batch[i:])
                return
            messages, packets = [], []
            properties = self.expiry if message.expires else None
            handover = self._hand_over([message])  # QoS 1: confirmed by the broker's PUBACK, later
            report = partial(self._reported, handover)
            info = self.ids.publish(message.topic, message.payload, message.qos, message.retain, properties, report)
            if info.rc != MQTT_ERR_SUCCESS:
                self._put_back(batch[i + 1 :])
                self._not_taken(handover, info.rc)  # after the rest: events go back to the front in order
                return
        if messages:
            self._send_batch(messages, packets)

    def _send_batch(self, messages: list[Message], packets: list[bytes]) -> bool:
        handover = self._hand_over(messages)  # before writing: a direct write reports back at once
        rc = self.ids.write(b"".join(packets), partial(self._reported, handover))
        return rc == MQTT_ERR_SUCCESS or self._not_taken(handover, rc)

    def _hand_over(self, messages: list[Message]) -> Handover:
        handover = Handover(messages)
        self.outstanding[handover] = None
        self.unconfirmed += len(messages)
        return handover

    def _not_taken(self, handover: Handover, rc: int) -> bool:
        """paho did not take `handover` (or could not write it): its messages are pending again."""
        messages: list[Message] = []  # written (and confirmed) before the connection failed, unless still here
        if handover in self.outstanding:
            del self.outstanding[handover]
            messages = handover.messages
            self.unconfirmed -= len(messages)
        self._put_back(messages)
        self._count_lost(len(messages))
        if self.failure is None:
            self.failure = aiomqtt.MqttCodeError(rc, "could not publish")
        return False

    def _put_back(self, messages: list[Message]) -> None:
        """Back to the outbox, unconfirmed: events return to the front of their queue, so the last goes first."""
        for message in reversed(messages):
            self.outbox.failed(message)

    def _count_lost(self, count: int) -> None:
        self.status.publish_failures += count
        self.status.publish_failures_by_reason["disconnected"] += count
