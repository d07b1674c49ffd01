"""Raw UDP forwarding: every received datagram, byte for byte, to any number of other tools.

Forwarding happens before any parsing, so other tools see exactly what the game sent, garbage included. A send
never blocks and never raises: a full buffer, an unreachable network or a target with nothing listening is
counted in `stats.forward_errors` (and per target in `errors_by_target`) and the datagram is skipped for it.

One connected, non-blocking socket per target. On Linux an unconnected UDP socket silently discards the ICMP
"port unreachable" a dead target answers with, so a forward that goes nowhere would look healthy; a connected
socket reports it as ECONNREFUSED on a following send, which we count. Connecting also means the route and
address are resolved once, not per datagram.

Host names are resolved when the target list is set (construction or `reload`), never per datagram. A target
that cannot be resolved or connected is left out and described in `problems`; the others keep working.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bridge.ingest.stats import IngestStats

__all__ = ["ForwardTarget", "Forwarder", "format_hostport", "resolve_target"]

# We never read from the forwarding sockets; keep whatever a target might send back from piling up.
_SMALL_RCVBUF = 4096


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    host: str  # as configured
    port: int
    address: tuple  # the resolved socket address (sockaddr tuple)
    family: int

    @property
    def label(self) -> str:
        return format_hostport(self.host, self.port)


def resolve_target(host: str, port: int) -> tuple[int, tuple]:
    """(family, sockaddr) for a target; IP literals skip the resolver. Raises OSError (socket.gaierror)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP)
        if not infos:
            raise socket.gaierror(f"no address for {host}") from None
        # Prefer IPv4 when both exist: loopback names and dual-stack hosts answer on it more often.
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        family, _, _, _, sockaddr = infos[0]
        return family, sockaddr
    if ip.version == 4:
        return socket.AF_INET, (str(ip), port)
    return socket.AF_INET6, (str(ip), port, 0, 0)


class Forwarder:
    """Sends each datagram to every target; `forward()` is synchronous, non-blocking and never raises."""

    def __init__(self, targets: Iterable[tuple[str, int]], stats: IngestStats) -> None:
        self.stats = stats
        self.problems: list[str] = []
        self.errors_by_target: Counter[str] = Counter()
        self._targets: tuple[ForwardTarget, ...] = ()
        self._sockets: tuple[socket.socket, ...] = ()
        self._labels: tuple[str, ...] = ()
        self.reload(targets)

    @property
    def targets(self) -> tuple[ForwardTarget, ...]:
        return self._targets

    def reload(self, targets: Iterable[tuple[str, int]]) -> None:
        """Replace the target list (e.g. on SIGHUP). Unchanged targets keep their socket; bad ones go to `problems`."""
        old = dict(zip(self._targets, self._sockets, strict=True))
        problems: list[str] = []
        new_targets: list[ForwardTarget] = []
        new_sockets: list[socket.socket] = []
        seen: set[ForwardTarget] = set()
        for host, port in targets:
            label = format_hostport(host, port)
            try:
                family, address = resolve_target(host, port)
            except OSError as exc:
                problems.append(f"forward target {label}: cannot resolve host: {_reason(exc)}")
                continue
            target = ForwardTarget(host, port, address, family)
            if target in seen:
                continue
            seen.add(target)
            sock = old.pop(target, None)
            if sock is None:
                try:
                    sock = _open_socket(family, address)
                except OSError as exc:
                    problems.append(f"forward target {label}: cannot send there: {_reason(exc)}")
                    continue
            new_targets.append(target)
            new_sockets.append(sock)
        # One assignment each, on the loop thread: forward() sees either the old or the new list, never a mix.
        self._targets, self._sockets = tuple(new_targets), tuple(new_sockets)
        self._labels = tuple(target.label for target in new_targets)
        self.problems = problems
        for sock in old.values():
            sock.close()

    def forward(self, data: bytes) -> None:
        stats = self.stats
        for index, sock in enumerate(self._sockets):
            try:
                sock.send(data)
            except OSError:
                # BlockingIOError (buffer full), ConnectionRefusedError (ICMP port unreachable from an earlier
                # send), network unreachable, ...: skip this target for this datagram, never wait for it.
                stats.forward_errors += 1
                self.errors_by_target[self._labels[index]] += 1
            else:
                stats.forwarded += 1

    def close(self) -> None:
        sockets = self._sockets
        self._targets, self._sockets, self._labels = (), (), ()
        for sock in sockets:
            sock.close()

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_socket(family: int, address: tuple) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SMALL_RCVBUF)
        except OSError:
            pass
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
