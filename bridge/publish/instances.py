"""A second bridge under the same rig root: instances find each other on `<root>/instance`, so that a second one
is warned about and one stopping never marks the rig offline while another still runs."""

from __future__ import annotations

import asyncio
import secrets

MAX_PEERS = 16  # other instances remembered per rig root (each one is a misconfiguration, logged)


class RigPeers:
    """Other bridges publishing under the same rig root, as seen on `<root>/instance`.

    Each link says `hello <token> <client id>` after every connect and `bye ...` when it stops; whoever hears a
    `hello` answers `here ...`, so both sides learn of each other whichever came first. The messages are not
    retained: only instances that are running take part. A bound of MAX_PEERS keeps a flood of made-up
    instances from growing the table. A stopping instance that still knows another live one leaves `status`
    online; the other one, on seeing `offline` (a stop that raced, or the Last Will of one that died), publishes
    `online` again and asks who is still there.
    """

    def __init__(self, client_id: str) -> None:
        self.token = secrets.token_hex(4)  # this process's instance; the client id alone may be shared
        self.client_id = client_id
        self.live: dict[str, str] = {}  # token -> client id of the other instances believed running
        self.goodbye_seen = asyncio.Event()  # our own `bye` came back: everything sent before it has arrived

    def says(self, kind: str) -> str:
        return f"{kind} {self.token} {self.client_id}"

    def heard(self, payload: bytes) -> tuple[str | None, str | None]:
        """Take in one message: (the reply to send, the client id of an instance not known before)."""
        kind, _, rest = payload.decode("utf-8", "replace").partition(" ")
        token, _, client_id = rest.partition(" ")
        if token == self.token:
            if kind == "bye":
                self.goodbye_seen.set()
            return None, None
        if kind == "bye" or not token:
            self.live.pop(token, None)
            return None, None
        if kind not in ("hello", "here"):
            return None, None
        new = token not in self.live and len(self.live) < MAX_PEERS
        if new:
            self.live[token] = client_id[:256]
        return ("here" if kind == "hello" else None), (self.live[token] if new else None)
