"""The metrics endpoint: an HTTP(S) server on its own threads, asking the event loop for one snapshot per scrape
(`loop.call_soon_threadsafe` + a future with a timeout), so a scrape never reads the loop's numbers itself."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from socketserver import TCPServer, ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector

from bridge.faults import Faults
from bridge.net import PortInUseError
from bridge.publish.metrics import snapshot as snapshots
from bridge.publish.metrics.exposition import (
    CONTENT_TYPE,
    BridgeCollector,
    TextFormat,
    from_metric,
)
from bridge.publish.metrics.families import Family, counter, families
from bridge.publish.metrics.snapshot import ColumnCache, Snapshot, Sources
from bridge.publish.service import Deps
from bridge.state.changes import Changes
from bridge.status import Histogram
from bridge.supervise import supervise, supervise_thread

log = logging.getLogger("rigbridge.metrics")

LAG_INTERVAL_S = 0.25  # how often the lag probe sleeps and measures its overshoot
LAG_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
SNAPSHOT_TIMEOUT_S = 2.0  # a scrape waits this long for the loop; then it answers without the bridge's figures
POLL_INTERVAL_S = 0.25  # the HTTP server's shutdown check
REQUEST_TIMEOUT_S = 10.0  # a client (or a TLS handshake) that stalls longer is dropped

# --------------------------------------------------------------------------------------------------- HTTP server


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:  # the base class's name
        pass


class _Server(ThreadingMixIn, WSGIServer):
    """A thread per request; with TLS, the handshake happens in that thread, so a slow client blocks nobody."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], family: int, context: ssl.SSLContext | None) -> None:
        self.address_family = family
        self.ssl_context = context
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the bind address up in DNS (getfqdn) for a name nobody uses here.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(REQUEST_TIMEOUT_S)
            request.do_handshake()
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("metrics request from %s failed", client_address, exc_info=True)


def tls_context(settings: Any) -> ssl.SSLContext | None:
    tls = settings.tls
    if not tls.enabled:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    assert tls.cert_file is not None
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


class MetricsExporter:
    """The metrics endpoint of one bridge: `start()` on the bridge's loop, `await close()` when it stops."""

    name = "metrics"

    def __init__(self, settings: Any, rig: str, sources: Sources, faults: Faults) -> None:
        """`settings`: the `metrics` section; `rig`: the `rig` label; `sources`: what a snapshot copies."""
        self.settings = settings
        self.rig = rig
        self.sources = sources
        self.lag = Histogram(bounds=LAG_BUCKETS_S, counts=[0] * (len(LAG_BUCKETS_S) + 1))
        self.process = ProcessCollector(registry=None)
        self.registry = CollectorRegistry(auto_describe=False)  # for prometheus-client users; not the global one
        self.registry.register(BridgeCollector(self))
        self.text = TextFormat()
        self.columns = ColumnCache()  # touched on the loop thread only, by take_snapshot
        self.faults = faults
        self.snapshot_failures = 0
        self._failures_lock = threading.Lock()
        self._closing = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lag_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def from_deps(cls, deps: Deps) -> MetricsExporter | None:
        """On with `metrics.enabled`; built after the realtime LED output, whose stats it shows."""
        if not deps.settings.metrics.enabled:
            return None
        return cls(deps.settings.metrics, deps.settings.mqtt.rig, Sources.from_deps(deps), deps.faults)

    def on_change(self, changed: Changes) -> None:
        pass  # a scrape copies what it shows when it comes

    async def start(self) -> None:
        """Bind and serve; call on the running event loop. Raises `PortInUseError` when the port is taken."""
        if self._server is not None:
            raise RuntimeError("metrics already started")
        s = self.settings
        context = tls_context(s)
        infos = socket.getaddrinfo(s.bind, s.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, sockaddr = infos[0]
        try:
            server = _Server((str(sockaddr[0]), s.port), family, context)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"metrics port {s.bind}:{s.port} is already in use by another program: "
                    "set metrics.port to a free port, or metrics.enabled: false"
                ) from None
            raise
        server.set_app(self._app)
        self._loop = asyncio.get_running_loop()
        self._server = server
        self._closing.clear()
        self._thread = threading.Thread(target=self._serve, args=(server,), name="rigbridge-metrics", daemon=True)
        self._thread.start()
        self._lag_task = self._loop.create_task(supervise("metrics.lag", self._watch_lag, self.faults))
        host, port = self.address
        log.info("metrics on %s://%s:%s/metrics", "https" if context else "http",
                 f"[{host}]" if ":" in host else host, port)

    async def close(self) -> None:
        """Stop the lag probe and the server; scrapes in flight get no snapshot any more."""
        self._loop = None
        self._closing.set()
        task, self._lag_task = self._lag_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is not None:
            await asyncio.to_thread(self._shutdown, server, thread)

    def _serve(self, server: _Server) -> None:
        """The server thread: serve until closed; a failure of the server loop is reported and it serves again."""
        supervise_thread("metrics.server", lambda: server.serve_forever(poll_interval=POLL_INTERVAL_S),
                         self._report, self._closing)

    def _report(self, where: str, exc: Exception, message: str) -> None:
        """A failure on a server thread, handed to the loop: `Faults` belongs to the loop thread."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the bridge is stopping
                loop.call_soon_threadsafe(self.faults.error, where, exc, message)

    @staticmethod
    def _shutdown(server: _Server, thread: threading.Thread | None) -> None:
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(5)

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when `metrics.port` is 0."""
        if self._server is None:
            raise RuntimeError("metrics not started")
        name = self._server.socket.getsockname()
        return name[0], name[1]

    @property
    def port(self) -> int:
        return self.address[1]

    # ------------------------------------------------------------------------------------------ loop side

    async def _watch_lag(self) -> None:
        """Sleep `LAG_INTERVAL_S` again and again; how much later than asked the loop woke us is its lag."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_INTERVAL_S)
            lag = loop.time() - before - LAG_INTERVAL_S
            self.lag.observe(lag if lag > 0.0 else 0.0)

    # ------------------------------------------------------------------------------------------ server side

    def collect(self) -> list[Family]:
        """Every family of one scrape: the bridge's (from one snapshot), then the process's, all with `rig`."""
        rig = self.rig
        snap = self.snapshot()
        out = families(snap, rig) if snap is not None else []
        out.append(counter("rigbridge_metrics_snapshot_failures", "scrapes answered without the bridge's figures "
                           "(the event loop did not answer in time, or reading failed)", rig,
                           self.snapshot_failures))
        out.extend(from_metric(m, rig) for m in self.process.collect())
        return out

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "/")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return []
        if path not in ("/metrics", "/"):
            body = b"not found: the metrics are at /metrics\n"
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        try:
            body = self.text.render(self.collect())
        except Exception as exc:  # reported; the next scrape tries again
            self._report("metrics.render", exc, f"metrics.render failed (this scrape answers 500): {exc!r}")
            body = b"the metrics could not be rendered (logged)\n"
            start_response("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8"),
                                                         ("Content-Length", str(len(body)))])
            return [body]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [] if method == "HEAD" else [body]

    def snapshot(self) -> Snapshot | None:
        """A snapshot built on the loop thread; None when the loop does not answer in time (or is gone)."""
        loop = self._loop
        if loop is None:
            return None
        future: concurrent.futures.Future[Snapshot] = concurrent.futures.Future()

        def build() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the scrape gave up waiting
            try:
                future.set_result(snapshots.take_snapshot(self.sources, self.lag, self.columns))
            except Exception as exc:  # reported here, on the loop; the scrape answers without it
                self.faults.error("metrics.snapshot", exc,
                                  f"metrics.snapshot failed (a scrape without the bridge's figures): {exc!r}")
                future.set_exception(exc)

        try:
            loop.call_soon_threadsafe(build)
        except RuntimeError:  # the loop closed meanwhile
            return None
        try:
            return future.result(SNAPSHOT_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            self._failed("the event loop did not answer within %.1f s", SNAPSHOT_TIMEOUT_S)
        except Exception:  # a bug in a read must not break the endpoint; reported on the loop
            with self._failures_lock:
                self.snapshot_failures += 1
        return None

    def _failed(self, message: str, *args: Any) -> None:
        """A scrape the loop did not answer: logged from here, since the loop (and its faults log) is stuck."""
        with self._failures_lock:
            self.snapshot_failures += 1
            first = self.snapshot_failures == 1
        (log.warning if first else log.debug)("metrics scrape without bridge figures: " + message, *args)
