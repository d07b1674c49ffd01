"""The outbox: what waits to go to the broker, and what the broker has.

Values wait in latest-wins maps, one message per topic (`pending`, and `pending_realtime`, which goes first), so a
slow or absent broker makes us skip intermediate values instead of queueing them: memory is bounded by the number
of topics. Events wait in an ordered, bounded queue, where none replaces another. The delivery ledger says what
the broker confirmed (`sent`) and what is on its way (`inflight`): a value counts as sent only when the network
side reports success, and a failed one is put back unless a newer value already replaced it.

Every output offers its messages here (the MQTT engine, Home Assistant, WLED); the MQTT link takes them out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MAX_EVENTS_QUEUED = 256


@dataclass(slots=True)
class Message:
    topic: str
    payload: str
    qos: int
    retain: bool
    rate: str  # rate class (or "event", "status", "discovery", "clear")
    numeric: float | None = None
    expires: bool = False  # MQTT 5 message expiry applies (retained telemetry)
    origin_ns: int = 0  # monotonic receive time of the datagram behind a realtime value (latency histogram)


class Outbox:
    """Latest-wins maps, the event queue and the delivery ledger."""

    def __init__(self) -> None:
        self.pending: dict[str, Message] = {}  # latest wins: one message per topic
        self.pending_realtime: dict[str, Message] = {}
        self.events: deque[Message] = deque(maxlen=MAX_EVENTS_QUEUED)
        self._sent: dict[str, tuple[str, float | None]] = {}  # what the broker confirmed, per topic
        self._inflight: dict[str, Message] = {}  # handed to the network, not yet confirmed

    # ------------------------------------------------------------------------------------------ offering

    def offer(self, message: Message) -> None:
        """Latest wins per topic; events join the ordered event queue, where none replaces another."""
        if message.rate == "event":
            self.events.append(message)
            return
        target = self.pending_realtime if message.rate == "realtime" else self.pending
        target[message.topic] = message

    def withdraw(self, topic: str, realtime: bool = False) -> None:
        """Nothing to send for `topic` after all (its value is back to what the broker has)."""
        (self.pending_realtime if realtime else self.pending).pop(topic, None)

    def withdraw_under(self, prefix: str) -> None:
        """Drop pending values under `prefix` (a car that left); clears stay, they are what must go out."""
        for target in (self.pending, self.pending_realtime):
            for topic in [t for t, m in target.items() if t.startswith(prefix) and m.rate != "clear"]:
                del target[topic]

    # ------------------------------------------------------------------------------------------ the ledger

    def last_known(self, topic: str) -> tuple[str, float | None] | None:
        """(payload, numeric) the broker has or will have once confirmed; None: nothing."""
        inflight = self._inflight.get(topic)
        if inflight is not None:
            return inflight.payload, inflight.numeric
        return self._sent.get(topic)

    def known(self, topic: str) -> bool:
        """Whether the broker has (or is being sent) a value for `topic`."""
        return topic in self._sent or topic in self._inflight

    def known_under(self, prefix: str) -> list[str]:
        """Topics under `prefix` the broker has or is being sent; forgotten as confirmed (they are cleared next)."""
        topics = [t for t in {*self._sent, *self._inflight} if t.startswith(prefix)]
        for topic in topics:
            self._sent.pop(topic, None)
        return topics

    def take(self, limit: int) -> list[Message]:
        """Up to `limit` pending messages, realtime first, then events, then the rest; taken out of the maps."""
        batch: list[Message] = []
        self._take_from(self.pending_realtime, batch, limit)
        events = self.events
        while events and len(batch) < limit:
            batch.append(events.popleft())
        self._take_from(self.pending, batch, limit)
        return batch

    def _take_from(self, source: dict[str, Message], batch: list[Message], limit: int) -> None:
        inflight = self._inflight
        while source and len(batch) < limit:
            message = source.pop(next(iter(source)))
            inflight[message.topic] = message  # what the broker will have, once confirmed
            batch.append(message)

    def has_pending(self) -> bool:
        return bool(self.pending_realtime or self.pending or self.events)

    def pending_size(self) -> int:
        return len(self.pending_realtime) + len(self.pending) + len(self.events)

    def sent(self, message: Message) -> None:
        """The broker accepted `message`: it is now what subscribers have."""
        if message.rate == "event":
            return
        if self._inflight.get(message.topic) is message:
            del self._inflight[message.topic]
        if message.rate == "clear":
            self._sent.pop(message.topic, None)
        else:
            self._sent[message.topic] = (message.payload, message.numeric)

    def failed(self, message: Message) -> None:
        """Not sent: keep it pending unless a newer value for the topic is already waiting."""
        if message.rate == "event":
            self.events.appendleft(message)
            return
        if self._inflight.get(message.topic) is message:
            del self._inflight[message.topic]
        target = self.pending_realtime if message.rate == "realtime" else self.pending
        target.setdefault(message.topic, message)

    def reset(self) -> None:
        """After a (re)connect the broker may have lost everything: forget what it had and what waits for it
        (the outputs offer it all again); events stay queued."""
        self._sent.clear()
        self._inflight.clear()
        self.pending.clear()
        self.pending_realtime.clear()


__all__ = ["MAX_EVENTS_QUEUED", "Message", "Outbox"]
