"""Recording while running: datagrams go to a capture file on their own thread, never slowing the pipeline.

The pipeline hands each datagram to a bounded queue and moves on. A writer thread appends them to a capture
(`capture.py`); when the disk is full or the file cannot be written, recording stops with one clear log line and
the pipeline carries on. A full queue (the disk is slower than the game) drops the datagram from the recording
only, counted in `dropped`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from pathlib import Path

from bridge.ingest.capture import CaptureWriter

log = logging.getLogger("rigbridge.record")

QUEUE_DATAGRAMS = 20_000  # ~56 s of 60 Hz traffic
FLUSH_EVERY_S = 0.25


class PipelineRecorder:
    def __init__(self, path: str | Path, max_queue: int = QUEUE_DATAGRAMS) -> None:
        self.path = Path(path)
        self.recorded = 0
        self.dropped = 0
        self.error: str | None = None
        self._queue: queue.Queue[tuple[bytes, int] | None] = queue.Queue(max_queue)
        self._writer = CaptureWriter(self.path)  # opens (or repairs) the file now: a bad path fails at start
        self._thread = threading.Thread(target=self._run, name="rigbridge-recorder", daemon=True)
        self._thread.start()

    def put(self, data: bytes, t_ns: int) -> None:
        """Called on the event loop for every datagram; never blocks."""
        if self.error is not None:
            return
        try:
            self._queue.put_nowait((data, t_ns))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        writer = self._writer
        try:
            while True:
                try:
                    item = self._queue.get(timeout=FLUSH_EVERY_S)
                except queue.Empty:
                    writer.flush()
                    continue
                if item is None:
                    break
                data, t_ns = item
                writer.write(data, max(0, t_ns - writer.origin_ns))
                self.recorded += 1
            writer.flush()
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror or exc}"
            log.error("recording stopped, the pipeline carries on: %s", self.error)
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    def close(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            self._thread.join(timeout)
