"""The UDP receiver: one socket, a source allow-list, raw forwarding, then the datagram handler.

Per datagram, in this order, all synchronously on the event loop thread:

1. take `time.monotonic_ns()` once: the receive timestamp everything downstream uses;
2. count it (`received`, `received_bytes`, `last_datagram_monotonic`);
3. a source outside `udp.allow_from` is counted as `not_allowed` and dropped, so it is not forwarded either;
4. one source at a time: a sender other than the one being followed is counted as `other_source` and dropped
   (see below);
5. forward the raw bytes to every target, before any parsing, so undecodable datagrams are forwarded too;
6. call `on_datagram(data, addr, t_ns)`; an exception there is counted as `handler_error` and reported to
   `Faults` (logged, rate-limited), never fatal.

A source is a sender's (address, port). Two games sending to the port at once (two rigs in broadcast mode on
one LAN) interleave two sessions, which no reader can make sense of; so the receiver follows the first sender
(or the one `udp.source` names) and drops senders on other machines, with one warning per sender, until the
followed one has been silent for `udp.receive_timeout_s`. A new port on the followed machine takes over at once:
that is the game or tool there restarted. The others are dropped before forwarding, so the tools downstream see
the same single stream the bridge follows, and a datagram coming back from the bridge's own forwarding sockets
is never followed, so forwarding cannot loop through this socket.

The socket is created here rather than by asyncio so that we control it: the address family follows the bind
address, `SO_RCVBUF` is raised (the kernel's grant is in `rcvbuf_effective`), and neither `SO_REUSEADDR` nor
`SO_REUSEPORT` is set, so a second program on the same port is an error instead of silently sharing datagrams.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge.faults import Faults
from bridge.ingest.forward import Forwarder, format_hostport
from bridge.ingest.stats import HANDLER_ERROR, NOT_ALLOWED, OTHER_SOURCE, IngestStats
from bridge.ingest.targets import plain_address
from bridge.net import PortInUseError  # raised here, named here for the receiver's callers
from bridge.settings import UdpSettings

__all__ = ["PortInUseError", "UdpReceiver", "find_port_holder", "read_kernel_drops"]

DatagramHandler = Callable[[bytes, tuple[Any, ...], int], None]

_PROC_NET = (Path("/proc/net/udp"), Path("/proc/net/udp6"))
_ALLOW_CACHE_MAX = 1024  # source addresses whose allow-list verdict is remembered
RECEIVE_BUFFER = 65536  # the largest UDP datagram fits, so an oversized one is seen whole and dropped by size
MAX_PER_WAKEUP = 64  # datagrams read per wake-up before giving the loop back
_WARNED_SOURCES_MAX = 64  # other senders already warned about; past this, drops are counted, warnings summarised


class UdpReceiver:
    """Receives datagrams on `settings.bind:settings.port` and hands each one to `on_datagram`."""

    def __init__(
        self,
        settings: UdpSettings,
        on_datagram: DatagramHandler,
        stats: IngestStats,
        forwarder: Forwarder | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.settings = settings
        self.on_datagram = on_datagram
        self.stats = stats
        self.forwarder = forwarder
        self.faults = faults if faults is not None else Faults()
        self.source: tuple[Any, ...] | None = None  # the sender being followed, as recvfrom gives it
        self._source_heard_ns = 0  # monotonic ns of its last datagram
        self._switch_after_ns = int(settings.receive_timeout_s * 1e9)
        wanted = getattr(settings, "source", None)
        self._wanted = None if wanted is None else (plain_address(wanted[0]), wanted[1])
        self._warned: set[tuple[str, int]] = set()
        self.rcvbuf_effective: int | None = None  # bytes the kernel granted for SO_RCVBUF
        self._networks = tuple(settings.allow_from)
        self._allowed: dict[str, bool] = {}
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inode: int | None = None

    # ------------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind and start receiving; raises `PortInUseError` when the port is taken."""
        if self._sock is not None:
            raise RuntimeError("UdpReceiver already started")
        sock = self._bind()
        if self.forwarder is not None:  # now that the port is known: refuse targets that would loop to it
            self.forwarder.guard(self.settings.bind, sock.getsockname()[1])
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._drain)
        self._sock = sock
        self._inode = _socket_inode(sock)

    @property
    def running(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        """Stop receiving and release the port now, so it can be bound again at once."""
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()

    def _drain(self) -> None:
        """Read every datagram waiting (up to a bound, to stay fair to the other tasks) per wake-up.

        The game sends a frame's packets in one burst; reading them in one go costs one event-loop turn per
        burst instead of one per datagram, which is most of the cost of receiving at 60 Hz.
        """
        sock = self._sock
        if sock is None:
            return
        receive = sock.recvfrom
        handle = self._datagram_received
        for _ in range(MAX_PER_WAKEUP):
            try:
                data, addr = receive(RECEIVE_BUFFER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an ICMP error queued on the socket; the next read goes on
            handle(data, addr)

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when `udp.port` is 0."""
        if self._sock is None:
            raise RuntimeError("UdpReceiver not started")
        name = self._sock.getsockname()
        return name[0], name[1]

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send from the receiving socket itself, for a peer that answers to the sender's address and port (GT7's
        console streams to whoever sends it heartbeats). Raises OSError (BlockingIOError when the buffer is full)."""
        if self._sock is None:
            raise RuntimeError("UdpReceiver not started")
        self._sock.sendto(data, addr)

    def _bind(self) -> socket.socket:
        s = self.settings
        family = socket.AF_INET6 if ipaddress.ip_address(s.bind).version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):  # keep the system default; rcvbuf_effective shows what we got
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, s.rcvbuf_bytes)
            self.rcvbuf_effective = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            try:
                sock.bind((s.bind, s.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUseError(_port_in_use_message(s.bind, s.port)) from None
                raise
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    # ------------------------------------------------------------------------------------------- hot path

    def _datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        t_ns = time.monotonic_ns()
        stats = self.stats
        stats.received += 1
        stats.received_bytes += len(data)
        stats.last_datagram_monotonic = t_ns / 1e9
        if self._networks and not self._is_allowed(addr[0]):
            stats.dropped[NOT_ALLOWED] += 1
            return
        if addr != self.source and not self._follows(addr, t_ns):
            stats.dropped[OTHER_SOURCE] += 1
            return
        self._source_heard_ns = t_ns
        if self.forwarder is not None:
            self.forwarder.forward(data)
        try:
            self.on_datagram(data, addr, t_ns)
        except Exception as exc:
            stats.dropped[HANDLER_ERROR] += 1
            self.faults.error("datagram", exc)

    def _follows(self, addr: tuple[Any, ...], t_ns: int) -> bool:
        """A datagram from another sender than the followed one: follow it from now on, or refuse it."""
        forwarder = self.forwarder
        if forwarder is not None and forwarder.sends_from(addr):
            # A target that reaches this socket in a way name resolution cannot see (a NAT rule, say).
            self.faults.warn(
                "udp",
                "forward_loop",
                f"dropped a datagram from this bridge's own forwarding socket {_label(addr)}: a udp.forward target "
                "leads back to this bridge",
            )
            return False
        wanted = self._wanted
        if wanted is not None:
            try:
                eligible = plain_address(addr[0]) == wanted[0] and wanted[1] in (0, addr[1])
            except ValueError:
                eligible = False
            if not eligible:
                self._warn_other(addr, f"udp.source is {format_hostport(str(wanted[0]), wanted[1])}")
                return False
        current = self.source
        if current is not None:
            silent_ns = t_ns - self._source_heard_ns
            if addr[0] == current[0]:
                # The same machine from a new port: the game or tool there was restarted. Taking it at once keeps
                # a restart seamless; two senders on one machine alternate here, and every switch is counted.
                why = "the same machine from another port"
            elif silent_ns >= self._switch_after_ns:
                why = f"{_label(current)} was silent for {silent_ns / 1e9:.1f} s"
            else:
                self._warn_other(
                    addr,
                    f"following {_label(current)} (one source at a time; another takes over after "
                    f"{self.settings.receive_timeout_s:g} s of silence, or set udp.source)",
                )
                return False
            self.faults.warn("udp", "source_switch", f"following UDP telemetry from {_label(addr)} now: {why}")
            self._warned.clear()  # the one given up on is named again if it comes back
        self.source = addr
        return True

    def _warn_other(self, addr: tuple[Any, ...], why: str) -> None:
        key = (addr[0], addr[1])
        if key in self._warned:
            return
        if len(self._warned) < _WARNED_SOURCES_MAX:
            self._warned.add(key)
        self.faults.warn("udp", OTHER_SOURCE, f"ignoring UDP telemetry from {_label(addr)}: {why}")

    def _is_allowed(self, host: str) -> bool:
        verdict = self._allowed.get(host)
        if verdict is None:
            verdict = self._check_allowed(host)
            if len(self._allowed) >= _ALLOW_CACHE_MAX:  # many sources (a scan?): forget, stay bounded
                self._allowed.clear()
            self._allowed[host] = verdict
        return verdict

    def _check_allowed(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
        except ValueError:
            return False
        candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)  # an IPv4 sender on a dual-stack socket
        return any(c in net for c in candidates for net in self._networks if c.version == net.version)

    # ------------------------------------------------------------------------------------------- kernel drops

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped for this socket (receive buffer full) since it was bound; None if unknown."""
        if self._inode is None:
            return None
        return read_kernel_drops(self._inode)

    def update_kernel_drops(self) -> int:
        """Add new kernel drops to `stats.dropped["kernel_overflow"]`; returns how many were new."""
        return self.stats.update_kernel_drops(self.kernel_drops())


def _label(addr: tuple[Any, ...]) -> str:
    return format_hostport(str(addr[0]), int(addr[1]))


# ----------------------------------------------------------------------------------------------- /proc helpers


def _socket_inode(sock: socket.socket) -> int | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return os.fstat(sock.fileno()).st_ino
    except OSError:
        return None


def _proc_udp_rows() -> list[list[str]]:
    """The rows of /proc/net/udp and /proc/net/udp6, split on whitespace; [] where unavailable."""
    rows: list[list[str]] = []
    for path in _PROC_NET:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        rows.extend(line.split() for line in lines[1:])
    return rows


def read_kernel_drops(inode: int) -> int | None:
    """The `drops` column of the /proc/net/udp(6) row for a socket inode; None if not found or not Linux."""
    wanted = str(inode)
    for row in _proc_udp_rows():
        # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        if len(row) >= 13 and row[9] == wanted:
            try:
                return int(row[12])
            except ValueError:
                return None
    return None


def find_port_holder(port: int) -> list[tuple[int, str]]:
    """(pid, program name) of the processes holding a UDP socket bound to local `port`; best effort, never raises.

    Only processes whose /proc/PID/fd we may read are found (all of them as root, our own otherwise).
    """
    try:
        inodes = set()
        for row in _proc_udp_rows():
            if len(row) >= 10 and ":" in row[1] and int(row[1].rsplit(":", 1)[1], 16) == port and row[9] != "0":
                inodes.add(f"socket:[{row[9]}]")
        if not inodes:
            return []
        holders: list[tuple[int, str]] = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fds = list((proc / "fd").iterdir())
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target in inodes:
                    try:
                        name = (proc / "comm").read_text().strip()
                    except OSError:
                        name = "?"
                    holders.append((int(proc.name), name))
                    break
        return sorted(holders)
    except Exception:
        return []


def _port_in_use_message(bind: str, port: int) -> str:
    where = format_hostport(bind, port)
    holders = find_port_holder(port) if sys.platform.startswith("linux") else []
    if holders:
        who = ", ".join(f"{name} (pid {pid})" for pid, name in holders)
        text = f"UDP port {port} is already in use on {where} by {who}"
    else:
        text = f"UDP port {port} is already in use on {where} by another program"
    return f"{text}; set udp.port in the config or stop the other program"
