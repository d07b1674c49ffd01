"""Long-lived tasks that survive their own bugs: an exception is reported and the task starts again.

`supervise(name, body, faults)` runs `body()` (a coroutine function) until it returns; when it raises, the
exception goes to `Faults` (counted, logged once with its traceback, then throttled) and `body` is started again
after a delay that doubles from `restart_min_s` to `restart_max_s` and resets once a run has lasted longer than
`restart_max_s`. Cancellation is not a failure: it ends the supervisor at once.

`supervise_thread` does the same for the body of a thread (the metrics HTTP server): a thread must not touch
`Faults` itself, so its failures go through `report`, which hands them to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable

from bridge.faults import Faults

__all__ = ["cancel", "supervise", "supervise_thread"]

RESTART_MIN_S = 0.05
RESTART_MAX_S = 5.0


async def supervise(
    name: str,
    body: Callable[[], Awaitable[None]],
    faults: Faults,
    *,
    restart_min_s: float = RESTART_MIN_S,
    restart_max_s: float = RESTART_MAX_S,
) -> None:
    """Run `body` as task `name` until it returns normally (or the supervisor is cancelled)."""
    delay = restart_min_s
    while True:
        started = time.monotonic()
        try:
            await body()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            faults.error(f"task.{name}", exc, f"task.{name} failed and restarts: {exc!r}")
        if time.monotonic() - started > restart_max_s:
            delay = restart_min_s
        await asyncio.sleep(delay)
        delay = min(delay * 2, restart_max_s)


def supervise_thread(
    name: str,
    body: Callable[[], None],
    report: Callable[[str, Exception, str], None],
    stopping: threading.Event,
    *,
    restart_min_s: float = RESTART_MIN_S,
    restart_max_s: float = RESTART_MAX_S,
) -> None:
    """Run `body` on this thread until it returns or `stopping` is set; `report(where, exc, message)` each failure."""
    delay = restart_min_s
    while not stopping.is_set():
        started = time.monotonic()
        try:
            body()
            return
        except Exception as exc:
            report(f"task.{name}", exc, f"task.{name} failed and restarts: {exc!r}")
        if time.monotonic() - started > restart_max_s:
            delay = restart_min_s
        if stopping.wait(delay):
            return
        delay = min(delay * 2, restart_max_s)


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Stop a service's task and wait until it has ended; its cancellation is how it ends, not a failure."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
