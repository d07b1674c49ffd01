"""The link to a PlayStation running GT7 (`games.gt7.console`): the heartbeat that keeps the game streaming.

GT7 streams to whoever sends the console a heartbeat on its port 33739, to port 33740 of the address the
heartbeat came from, and stops soon after the heartbeats stop. The bridge's UDP receiver is that listener:
with a console configured its port defaults to 33740 (see the config's `check_games`), and this service sends
the heartbeats from the receiver's own socket (`send`), so the console's answer reaches the receiver whether
the game answers to the fixed port or to the heartbeat's source port. The packets then take the ordinary
path: forwarded as they arrived (still encrypted, so other GT7 tools can listen to the bridge's forward
instead of heartbeating the console themselves), decrypted, decoded and written like any game's.

The service never touches a packet: it counts them in the read-only state (`packets_applied`) to send a
heartbeat after every `every_packets` and at least every `interval_s` (`ConsoleWatch` in heartbeat.py). When
none arrives for `silence_s` it says so once in the log (via Faults: counted, rate-limited) and `game/receiving`
goes false through the bridge's watchdog; heartbeats go on, so the stream comes back by itself after the game
or the console restarts, and the log says so.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge.faults import Faults
from bridge.games.gt7.heartbeat import (
    HEARTBEAT_EVERY_PACKETS,
    HEARTBEAT_INTERVAL_S,
    SILENCE_S,
    ConsoleWatch,
    check_heartbeat,
)
from bridge.supervise import cancel, supervise

if TYPE_CHECKING:
    from bridge.settings import Gt7Settings

log = logging.getLogger("rigbridge.gt7")

Send = Callable[[bytes, tuple[str, int]], None]  # sends one datagram from the bridge's receiving socket


class Gt7ConsoleService:
    name = "gt7_console"

    def __init__(
        self,
        settings: Gt7Settings,
        view: Any,
        faults: Faults,
        send: Send,
        *,
        heartbeat: bytes = b"~",
        every_packets: int = HEARTBEAT_EVERY_PACKETS,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        silence_s: float = SILENCE_S,
    ) -> None:
        """`view`: the read-only session state; `send`: see `Send`. Enabled when `settings.console` is set."""
        check_heartbeat(heartbeat)
        self.enabled = settings.console is not None
        self.console = settings.console or ""
        self.console_port = settings.console_port
        self.heartbeat = heartbeat
        self.where = f"service.{self.name}"
        self._view = view
        self._faults = faults
        self._send = send
        self.watch = ConsoleWatch(f"{self.console}:{self.console_port}", where=self.where,
                                  every_packets=every_packets, interval_s=interval_s, silence_s=silence_s,
                                  faults=faults)  # fmt: skip
        self.address: tuple[str, int] | None = None  # the console's, once resolved
        self._seen = 0  # `packets_applied` at the last look
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._seen = self._view.packets_applied
        self.watch.started()
        self._task = asyncio.create_task(supervise(self.name, self._run, self._faults), name=f"rigbridge-{self.name}")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel(task)

    def on_change(self, changed: object) -> None:
        """Nothing per packet: the task reads how many packets arrived from the state."""

    async def _run(self) -> None:
        watch = self.watch
        tick = min(watch.interval_s, watch.silence_s) / 4
        while True:
            if self.address is None:
                self.address = await self._resolve()
            applied = self._view.packets_applied
            was_answering = watch.answering
            due = watch.arrived(applied - self._seen)
            self._seen = applied
            if was_answering is False and watch.answering:
                log.info("the PlayStation at %s:%s answers again: GT7 telemetry is arriving", *self._label())
            if (watch.due() or due) and self.address is not None:
                self._beat(self.address)
            await asyncio.sleep(tick)

    def _label(self) -> tuple[str, int]:
        return self.console, self.console_port

    async def _resolve(self) -> tuple[str, int] | None:
        """The console's address (IPv4 first: the receiver usually listens on 0.0.0.0), or None for now."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self.console, self.console_port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            self._faults.warn(self.where, "unresolved", f"GT7 console {self.console}: cannot resolve it ({exc}); "
                                                        "trying again")  # fmt: skip
            return None
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        host, port = infos[0][4][:2]
        return str(host), int(port)

    def _beat(self, address: tuple[str, int]) -> None:
        self.watch.sent()  # paced even when it fails: the next one tries again after the interval
        try:
            self._send(self.heartbeat, address)
        except OSError as exc:  # the network down, the buffer full, an earlier one refused (ICMP)
            self._faults.warn(self.where, "send_failed", f"GT7 heartbeat to {address[0]}:{address[1]}: {exc}")
