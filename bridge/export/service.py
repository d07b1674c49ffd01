"""The export service: each session's document, written to `export.dir` when the session ends.

On the datagram path (`on_change`) the service only gathers (`tracker.py`, `document.py`: set lookups, and work
for what moved) and, at the end of a session, puts the document in a bounded latest-wins queue keyed by file name.
Its own supervised task writes the queue to disk in a worker thread (serialising, temp file, fsync, rename), and
watches for the game going silent for `export.idle_s`. A full disk, a folder that cannot be created or written:
reported to `faults` under `service.export` (counted, logged rate-limited), counted in `failed`, never fatal; the
next session is written as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from bridge.export.files import document_bytes, write_atomic
from bridge.export.tracker import ExportTracker
from bridge.faults import Faults
from bridge.state.changes import Changes
from bridge.supervise import supervise

__all__ = ["ExportService", "ExportSettingsLike"]

log = logging.getLogger("rigbridge")

MAX_PENDING = 8  # documents waiting for the disk (one per session; a rewrite of a session replaces its entry)
CLOSE_TIMEOUT_S = 10.0  # at shutdown, how long the last documents may take to reach the disk
IDLE_CHECK_S = 1.0


class ExportSettingsLike(Protocol):
    @property
    def dir(self) -> str | None: ...

    @property
    def idle_s(self) -> float: ...


class ExportService:
    """Writes one JSON file per session to `settings.dir` (the service is idle when that is None)."""

    name = "export"

    def __init__(
        self,
        settings: ExportSettingsLike,
        view: Any,  # the read-only SessionView
        faults: Faults,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(settings.dir) if settings.dir else None
        self.idle_s = settings.idle_s
        self.faults = faults
        self.where = f"service.{self.name}"
        self.monotonic = monotonic
        self.tracker = ExportTracker(view, self._queue, clock_ns)
        self.pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.written = 0  # files written (a session rewritten counts each time)
        self.failed = 0  # writes that failed (disk full, folder not writable...)
        self.dropped = 0  # documents dropped because the queue was full
        self.last_path: Path | None = None
        self._last_change = monotonic()
        self._idle_reported = True  # nothing to report before the first datagram
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    # ------------------------------------------------------------------------------------------ datagram path

    def on_change(self, changed: Changes) -> None:
        """After each packet that changed something: synchronous, no I/O."""
        if self.directory is None:
            return
        self._last_change = self.monotonic()
        self._idle_reported = False
        try:
            self.tracker.on_change(changed)
        except Exception as exc:
            self.faults.error(self.where, exc, f"{self.where} failed on a packet (the bridge goes on): {exc!r}")

    def _queue(self, name: str, document: dict[str, Any]) -> None:
        self.pending[name] = document
        self.pending.move_to_end(name)
        while len(self.pending) > MAX_PENDING:
            dropped, _ = self.pending.popitem(last=False)
            self.dropped += 1
            self.faults.warn(self.where, "queue_full", f"{self.where}: the disk is not keeping up; {dropped} "
                                                       f"was not written (at most {MAX_PENDING} wait)")
        self._wake.set()

    # ------------------------------------------------------------------------------------------ the task

    async def start(self) -> None:
        if self.directory is None:
            return
        self._task = asyncio.create_task(supervise(self.where, self._run, self.faults), name="rigbridge-export")

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives as its
            # timeout fires, and close() would wait for this task forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_CHECK_S):
                    await self._wake.wait()
            self._wake.clear()
            if not self._idle_reported and self.monotonic() - self._last_change >= self.idle_s:
                self._idle_reported = True
                self._guarded(self.tracker.idle)
            await self._write_pending()

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:
            self.faults.error(self.where, exc, f"{self.where} failed at the end of a session: {exc!r}")

    async def _write_pending(self) -> None:
        while self.pending:
            name, document = next(iter(self.pending.items()))
            assert self.directory is not None
            try:
                path = await asyncio.to_thread(_write, self.directory, name, document)
            except (OSError, ValueError) as exc:  # reported here, on the loop: Faults is not for other threads
                self._written(name, document)
                self.failed += 1
                self.faults.error(self.where, exc, f"{self.where}: could not write {self.directory / name} "
                                                   f"(the bridge goes on): {exc}")
                continue
            self._written(name, document)
            self.written += 1
            self.last_path = path
            log.info("session exported to %s", path)

    def _written(self, name: str, document: dict[str, Any]) -> None:
        """Done with this entry (written or failed); left in place when a newer version replaced it meanwhile,
        and left for `close()` when the task was cancelled while the thread wrote it."""
        if self.pending.get(name) is document:
            del self.pending[name]

    async def close(self) -> None:
        """Stop the task, then write the current session's document and what waits: never raises."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=CLOSE_TIMEOUT_S)
            self._task = None
        if self.directory is None:
            return
        self._guarded(lambda: self.tracker.finish("stop"))
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._write_pending()
        except Exception as exc:
            self.faults.error(self.where, exc, f"{self.where}: documents not written at shutdown: {exc!r}")


def _write(directory: Path, name: str, document: dict[str, Any]) -> Path:
    """In a worker thread: serialise and write atomically (the folder is created when missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    return write_atomic(directory, name, document_bytes(document))
