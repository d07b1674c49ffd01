"""Raw UDP forwarding: every received datagram, byte for byte, to a few other tools.

Forwarding happens before any parsing, so other tools see exactly what the game sent, garbage included. A send
never blocks and never raises: a full buffer, an unreachable network or a target with nothing listening is
counted in `stats.forward_errors` (and per target in `errors_by_target`), reported to `Faults` by errno name (so
a dead target is logged once, then summarised, not once per datagram) and the datagram is skipped for it.

One connected, non-blocking socket per target. On Linux an unconnected UDP socket silently discards the ICMP
"port unreachable" a dead target answers with, so a forward that goes nowhere would look healthy; a connected
socket reports it as ECONNREFUSED on a following send, which we count. Connecting also means the route and
address are resolved once, not per datagram. `MAX_FORWARD_TARGETS` bounds both the sockets and the per-datagram
work.

Host names are resolved when the target list is set (construction, `reload`, or `reload_in_thread` on SIGHUP,
which reads the config and resolves in the forwarder's worker thread so the loop never waits on DNS), never per
datagram. A target that cannot be resolved is reported and resolved again every `RETRY_S` in that thread while
the others keep working; one that cannot be connected is reported and left out. Once the receiver has bound its
port (`guard`), a target that reaches the bridge's own socket is refused: it would make every datagram loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bridge.faults import Faults
from bridge.ingest.stats import IngestStats
from bridge.net import (  # RETRY_S, format_hostport and resolve_target named here for forwarding's callers
    MAX_FORWARD_TARGETS,
    RETRY_S,
    IPAddress,
    format_hostport,
    local_addresses,
    loop_message,
    plain_address,
    reaches_own_socket,
    resolve_target,
)

__all__ = ["RETRY_S", "ForwardTarget", "Forwarder", "format_hostport", "resolve_target"]

WHERE = "forward"  # the Faults stage
# We never read from the forwarding sockets; keep whatever a target might send back from piling up.
_SMALL_RCVBUF = 4096

Resolved = tuple[str, int, "tuple[int, tuple[Any, ...]] | OSError"]  # host, port, (family, sockaddr) or the failure


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    host: str  # as configured
    port: int
    address: tuple[Any, ...]  # the resolved socket address (sockaddr tuple)
    family: int

    @property
    def label(self) -> str:
        return format_hostport(self.host, self.port)


def _resolve_all(targets: Iterable[tuple[str, int]]) -> list[Resolved]:
    """Resolve every target; blocking (the resolver may ask DNS), so retries run it in a worker thread."""
    resolved: list[Resolved] = []
    for host, port in targets:
        try:
            resolved.append((host, port, resolve_target(host, port)))
        except OSError as exc:
            resolved.append((host, port, exc))
    return resolved


class Forwarder:
    """Sends each datagram to every target; `forward()` is synchronous, non-blocking and never raises."""

    def __init__(self, targets: Iterable[tuple[str, int]], stats: IngestStats, faults: Faults | None = None) -> None:
        self.stats = stats
        self.faults = faults if faults is not None else Faults()
        self.problems: list[str] = []  # one line per target left out by the last reload, also sent to `faults`
        self.errors_by_target: Counter[str] = Counter()
        self._configured: tuple[tuple[str, int], ...] = ()
        self._resolved: list[Resolved] = []
        self._own: tuple[str, int] | None = None  # the receiving socket's (bind, port), once bound
        self._targets: tuple[ForwardTarget, ...] = ()
        self._sockets: tuple[socket.socket, ...] = ()
        self._labels: tuple[str, ...] = ()
        self._local: frozenset[tuple[str, int]] = frozenset()  # (address, port) each socket sends from
        self._unresolved = 0
        self._generation = 0  # bumped by every reload and close: a retry started before is stale
        self._retry: asyncio.TimerHandle | None = None
        self._worker: ThreadPoolExecutor | None = None  # one thread: lookups finish in the order they were asked
        self._closed = False
        self.reload(targets)

    @property
    def targets(self) -> tuple[ForwardTarget, ...]:
        return self._targets

    def sends_from(self, addr: tuple[Any, ...]) -> bool:
        """Whether `addr` (a sender as recvfrom gives it) is one of the forwarding sockets: a datagram come back."""
        if not self._local:
            return False
        try:
            return (str(plain_address(str(addr[0]))), addr[1]) in self._local
        except ValueError:
            return False

    def reload(self, targets: Iterable[tuple[str, int]]) -> None:
        """Replace the target list (e.g. on SIGHUP). Unchanged targets keep their socket; bad ones go to `problems`."""
        self._configured = tuple(targets)
        self._generation += 1
        self._apply(_resolve_all(self._configured[:MAX_FORWARD_TARGETS]), report_all=True)

    def reload_in_thread(
        self, read_targets: Callable[[], Iterable[tuple[str, int]]], done: Callable[[BaseException | None], None]
    ) -> None:
        """`reload(read_targets())`, with `read_targets` (it may read a file) and the lookups in the worker thread.

        Then, on the loop: the new list is applied and `done(None)` is called, or, when `read_targets` raised,
        `done(exc)` and the running targets stay. Requests are applied in the order they were made.
        """

        def work() -> tuple[tuple[tuple[str, int], ...], list[Resolved]]:
            targets = tuple(read_targets())
            return targets, _resolve_all(targets[:MAX_FORWARD_TARGETS])

        def finished(future: asyncio.Future[tuple[tuple[tuple[str, int], ...], list[Resolved]]]) -> None:
            if future.cancelled() or self._closed:
                return
            exc = future.exception()
            if exc is None:
                self._configured, resolved = future.result()
                self._generation += 1
                self._apply(resolved, report_all=True)
            done(exc)

        asyncio.get_running_loop().run_in_executor(self._thread(), work).add_done_callback(finished)

    def _thread(self) -> ThreadPoolExecutor:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward-lookup")
        return self._worker

    def guard(self, bind: str, port: int) -> None:
        """From now on refuse every target that reaches the bridge's own socket on `bind`:`port` (checked now too)."""
        self._own = (bind, port)
        self._apply(self._resolved, report_all=False)

    def _apply(self, resolved: list[Resolved], *, report_all: bool) -> None:
        """Open what is new, close what is gone; report each problem (only new ones unless `report_all`)."""
        self._resolved = resolved
        problems: list[str] = []
        known = set() if report_all else set(self.problems)

        def problem(reason: str, message: str) -> None:
            problems.append(message)
            if message not in known:
                self.faults.warn(WHERE, reason, message)

        if len(self._configured) > MAX_FORWARD_TARGETS:
            problem(
                "too_many",
                f"{len(self._configured)} forward targets given, at most {MAX_FORWARD_TARGETS}: "
                f"only the first {MAX_FORWARD_TARGETS} are used",
            )
        old = dict(zip(self._targets, self._sockets, strict=True))
        local: frozenset[IPAddress] | None = None
        new_targets: list[ForwardTarget] = []
        new_sockets: list[socket.socket] = []
        unresolved = 0
        for host, port, result in resolved:
            label = format_hostport(host, port)
            if isinstance(result, OSError):
                unresolved += 1
                problem(
                    "unresolvable",
                    f"forward target {label}: cannot resolve host: {_reason(result)}; trying again every {RETRY_S:g} s",
                )
                continue
            family, address = result
            if self._own is not None and port == self._own[1]:
                local = local_addresses() if local is None else local
                if reaches_own_socket(address[0], self._own[0], local):
                    problem("self_loop", f"forward target {label} refused: {loop_message(host, address[0])}")
                    continue
            target = ForwardTarget(host, port, address, family)
            if target in new_targets:
                continue
            sock = old.pop(target, None)
            if sock is None:
                try:
                    sock = _open_socket(family, address)
                except OSError as exc:
                    problem(_errno_name(exc), f"forward target {label}: cannot send there: {_reason(exc)}")
                    continue
            new_targets.append(target)
            new_sockets.append(sock)
        # One assignment each, on the loop thread: forward() sees either the old or the new list, never a mix.
        self._targets, self._sockets = tuple(new_targets), tuple(new_sockets)
        self._labels = tuple(target.label for target in new_targets)
        self._local = frozenset(_local_address(sock) for sock in new_sockets)
        self.problems = problems
        self._unresolved = unresolved
        for sock in old.values():
            sock.close()
        self._schedule_retry()

    # ------------------------------------------------------------------------------------------- retries

    def _schedule_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if not self._unresolved:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not running yet: `guard()` at start applies the list again and schedules it then
        self._retry = loop.call_later(RETRY_S, self._start_retry, self._generation)

    def _start_retry(self, generation: int) -> None:
        self._retry = None
        if generation != self._generation:
            return
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._thread(), _resolve_all, self._configured[:MAX_FORWARD_TARGETS])
        future.add_done_callback(lambda done: self._retry_done(done, generation))

    def _retry_done(self, future: asyncio.Future[list[Resolved]], generation: int) -> None:
        if future.cancelled() or generation != self._generation:
            return  # closed, or a reload came in between with its own list
        exc = future.exception()
        if exc is not None:
            self.faults.error(WHERE, exc, f"resolving forward targets again failed: {exc!r}")
            self._schedule_retry()
            return
        self._apply(future.result(), report_all=False)

    # ------------------------------------------------------------------------------------------- hot path

    def forward(self, data: bytes) -> None:
        stats = self.stats
        for index, sock in enumerate(self._sockets):
            try:
                sock.send(data)
            except OSError as exc:
                # BlockingIOError (buffer full), ConnectionRefusedError (ICMP port unreachable from an earlier
                # send), network unreachable, ...: skip this target for this datagram, never wait for it.
                stats.forward_errors += 1
                label = self._labels[index]
                self.errors_by_target[label] += 1
                self.faults.warn(WHERE, _errno_name(exc), f"forwarding to {label} failed: {_reason(exc)}")
            else:
                stats.forwarded += 1

    def close(self) -> None:
        self._closed = True
        self._generation += 1
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)  # a lookup under way ends on its own
            self._worker = None
        sockets = self._sockets
        self._targets, self._sockets, self._labels, self._local = (), (), (), frozenset()
        for sock in sockets:
            sock.close()

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_socket(family: int, address: tuple[Any, ...]) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SMALL_RCVBUF)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _local_address(sock: socket.socket) -> tuple[str, int]:
    name = sock.getsockname()
    return str(plain_address(name[0])), name[1]


def _errno_name(exc: OSError) -> str:
    """`ECONNREFUSED`, `EMFILE`, ...: a bounded set of reasons to count by."""
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    name = errno.errorcode.get(exc.errno or 0) if not isinstance(exc, socket.gaierror) else None
    return f"{text} ({name})" if name else text
