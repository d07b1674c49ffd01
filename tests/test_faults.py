"""Faults (count, log once with the traceback, then a summary a minute, bounded) and supervise (restart, back off,
stop when cancelled)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time

import pytest

from bridge.faults import MAX_KEYS, MAX_QUEUED, Faults
from bridge.supervise import supervise, supervise_thread


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def raised(exc: Exception) -> Exception:
    """`exc` with a traceback, as an `except` clause would hold it."""
    try:
        raise exc
    except Exception as caught:
        return caught


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rigbridge"]


def test_reports_are_counted_by_where_and_kind() -> None:
    faults = Faults()
    for _ in range(3):
        faults.error("writer", raised(IndexError("slot 23")))
    faults.error("writer", raised(ValueError("nan")))
    faults.error("engine", raised(IndexError("x")))
    faults.warn("forward", "unresolvable", "forward target nowhere.invalid: not found")
    assert faults.counts == {("writer", "IndexError"): 3, ("writer", "ValueError"): 1, ("engine", "IndexError"): 1,
                             ("forward", "unresolvable"): 1}
    assert faults.count("writer") == 4 and faults.count("writer", "IndexError") == 3
    assert faults.count("nowhere") == 0
    assert faults.errors == {("writer", "IndexError"): 3, ("writer", "ValueError"): 1, ("engine", "IndexError"): 1}
    assert faults.refusals == {("forward", "unresolvable"): 1}
    assert faults.total == 6


def test_nothing_is_logged_until_flush_then_the_first_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "rigbridge")
    faults = Faults()
    faults.error("decode", raised(IndexError("slot 23")), "decode failed: IndexError('slot 23')")
    faults.warn("source", "other_source", "a second game at 10.0.0.7")
    assert records(caplog) == []  # reporting does no I/O: safe on the hot path
    assert faults.flush() == 2
    first, second = records(caplog)
    assert first.levelno == logging.ERROR and first.getMessage() == "decode failed: IndexError('slot 23')"
    assert first.exc_info is not None and first.exc_info[0] is IndexError
    assert "raise exc" in caplog.text  # the traceback is in the log
    assert second.levelno == logging.WARNING and second.exc_info is None
    assert faults.flush() == 0


def test_repeats_are_summarised_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "rigbridge")
    clock = Clock()
    faults = Faults(interval_s=60.0, clock=clock)
    faults.error("engine", raised(KeyError("a")))
    faults.flush()
    caplog.clear()
    for _ in range(500):
        faults.error("engine", raised(KeyError("b")))
        clock.now += 0.1  # 50 s of repeats
    assert faults.flush() == 0  # within the interval: nothing more
    clock.now += 11.0
    assert faults.flush() == 1
    (summary,) = records(caplog)
    assert summary.levelno == logging.ERROR and summary.exc_info is None
    assert "500 more time(s)" in summary.getMessage() and "KeyError('b')" in summary.getMessage()
    clock.now += 120.0
    assert faults.flush() == 0  # nothing new since: no line
    faults.error("engine", raised(KeyError("c")))
    assert faults.flush() == 1  # after a quiet minute a new one shows at once
    faults.error("engine", raised(KeyError("d")))
    assert faults.flush() == 0  # the next summary waits for its interval
    clock.now += 60.0
    assert faults.flush() == 1
    assert faults.count("engine") == 503


def test_the_table_and_the_queue_are_bounded() -> None:
    faults = Faults()
    for n in range(MAX_KEYS + 500):
        faults.warn("ingest", f"reason{n}", "refused")
    assert len(faults.counts) == MAX_KEYS + 1  # the later ones share (where, "other")
    assert faults.count("ingest", "other") == 500
    assert faults.count("ingest") == MAX_KEYS + 500  # every report still counted
    assert len(faults.queue) == MAX_QUEUED
    assert faults.flush() == MAX_QUEUED


# ------------------------------------------------------------------------------------------------- supervise


def test_a_failing_task_is_reported_and_restarted_with_backoff() -> None:
    faults = Faults()
    starts: list[float] = []

    async def body() -> None:
        starts.append(time.monotonic())
        if len(starts) <= 4:
            raise IndexError(f"failure {len(starts)}")

    asyncio.run(supervise("ticker", body, faults, restart_min_s=0.02, restart_max_s=1.0))
    assert len(starts) == 5  # four failures, then a run that returned
    assert faults.errors == {("task.ticker", "IndexError"): 4}
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08 and gaps[3] >= 0.16  # doubling
    assert gaps[3] < 1.0  # and bounded
    (report,) = [r for r in faults.queue if r.where == "task.ticker"]
    assert isinstance(report.exc, IndexError) and "failure 1" in report.message


def test_the_backoff_resets_after_a_long_run() -> None:
    faults = Faults()
    starts: list[float] = []

    async def body() -> None:
        starts.append(time.monotonic())
        if len(starts) == 3:
            await asyncio.sleep(0.15)  # longer than restart_max_s: a healthy run
        if len(starts) <= 3:
            raise RuntimeError("again")

    asyncio.run(supervise("rates", body, faults, restart_min_s=0.04, restart_max_s=0.1))
    # Waits: 0.04, 0.08, then (after the long run) 0.04 again instead of 0.1.
    assert starts[3] - starts[2] < 0.15 + 0.09
    assert faults.count("task.rates") == 3


def test_cancelling_ends_the_supervisor_without_a_report() -> None:
    faults = Faults()

    async def main() -> None:
        running = asyncio.Event()

        async def body() -> None:
            running.set()
            await asyncio.sleep(3600)

        task = asyncio.create_task(supervise("watchdog", body, faults))
        await running.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        async def failing() -> None:
            raise ValueError("x")

        task = asyncio.create_task(supervise("faults", failing, faults, restart_min_s=3600))
        await asyncio.sleep(0.05)  # failed once, now waiting to restart
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 5))
    assert faults.counts == {("task.faults", "ValueError"): 1}


def test_a_thread_body_is_restarted_until_stopped() -> None:
    reports: list[tuple[str, str]] = []
    stopping = threading.Event()
    runs = 0

    def body() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise OSError("select failed")
        stopping.wait(5)

    thread = threading.Thread(target=supervise_thread, args=("metrics.server", body,
                              lambda where, exc, message: reports.append((where, type(exc).__name__)), stopping),
                              kwargs={"restart_min_s": 0.01})
    thread.start()
    deadline = time.monotonic() + 5
    while runs < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stopping.set()
    thread.join(5)
    assert not thread.is_alive()
    assert runs == 3
    assert reports == [("task.metrics.server", "OSError")] * 2
