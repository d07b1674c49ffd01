"""Caught exceptions and refused inputs, counted and logged: nothing fails silently, nothing floods the log.

Every place that catches an exception (or deliberately refuses something it was given) reports it here under a
short, code-chosen `where` ("decode", "writer", "engine.tick", "forward", ...). A report is counted at once, by
(where, kind), where kind is the exception's type name or a reason chosen by the caller. Logging is deferred:
the first report of a key is queued (with the exception, so the log shows its traceback), and `flush()` (called
by its own task about once a second, and at shutdown) writes the queue to the log, adding at most one summary
line per key per `interval_s` for the reports since (how many, and the latest message). The hot path therefore
does no I/O here: a report is a counter increment and, once per key, an append to a bounded deque.

The keys are chosen by code, not by data, but exception types and reasons can still be many: past `MAX_KEYS`
distinct keys, new ones are counted under (where, "other") so the table stays bounded whatever arrives.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Faults", "Report"]

log = logging.getLogger("rigbridge")

MAX_KEYS = 256  # distinct (where, kind) pairs counted separately; later ones fold into (where, "other")
MAX_QUEUED = 64  # log records waiting for flush(); the counters stay exact when this overflows
OTHER = "other"


@dataclass(frozen=True, slots=True)
class Report:
    """One queued log record: the first of its key, or a summary of the reports since the last one."""

    where: str
    kind: str
    level: int
    message: str
    exc: BaseException | None
    repeated: int  # reports of this key since the last log line (0 for the first)


class Faults:
    """Counts reports by (where, kind) and queues a rate-limited log record for each key."""

    def __init__(self, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.counts: Counter[tuple[str, str]] = Counter()
        self.queue: deque[Report] = deque(maxlen=MAX_QUEUED)
        self.levels: dict[tuple[str, str], int] = {}  # each key's level (ERROR: caught exception, WARNING: refusal)
        self._logged_at: dict[tuple[str, str], float] = {}
        self._since_logged: Counter[tuple[str, str]] = Counter()  # reports not logged yet, per key
        self._latest: dict[tuple[str, str], str] = {}  # the message of the latest of those

    # ------------------------------------------------------------------------------------------ reporting

    def error(self, where: str, exc: BaseException, message: str = "") -> None:
        """An exception was caught in `where`: count it; its first occurrence is logged with the traceback."""
        self._report(where, type(exc).__name__, logging.ERROR, message or f"{where} failed: {exc!r}", exc)

    def warn(self, where: str, reason: str, message: str) -> None:
        """Something was refused or skipped in `where` for `reason`: count it, log the first one as a warning."""
        self._report(where, reason, logging.WARNING, message, None)

    def _report(self, where: str, kind: str, level: int, message: str, exc: BaseException | None) -> None:
        key = (where, kind)
        if key not in self.counts and len(self.counts) >= MAX_KEYS:
            key = (where, OTHER)
        self.counts[key] += 1
        if key in self._logged_at:
            self._since_logged[key] += 1  # flush() writes the summary once the key's interval has passed
            self._latest[key] = message
            return
        self._logged_at[key] = self.clock()
        self.levels[key] = level
        self.queue.append(Report(key[0], key[1], level, message, exc, 0))

    # ------------------------------------------------------------------------------------------ reading

    def count(self, where: str, kind: str | None = None) -> int:
        """Reports counted for `where` (and `kind`, when given)."""
        if kind is not None:
            return self.counts.get((where, kind), 0)
        return sum(n for (w, _), n in self.counts.items() if w == where)

    @property
    def errors(self) -> dict[tuple[str, str], int]:
        """Caught exceptions, by (where, exception type): empty while nothing has gone wrong."""
        return {key: n for key, n in self.counts.items() if self.levels.get(key) == logging.ERROR}

    @property
    def refusals(self) -> dict[tuple[str, str], int]:
        """Inputs refused or skipped on purpose, by (where, reason)."""
        return {key: n for key, n in self.counts.items() if self.levels.get(key) != logging.ERROR}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def flush(self, logger: logging.Logger = log) -> int:
        """Write the queued records, and the summaries now due, to the log; returns how many. Called off the hot
        path, about once a second."""
        now = self.clock()
        for key in [k for k in self._since_logged if now - self._logged_at[k] >= self.interval_s]:
            self._logged_at[key] = now
            message = self._latest.pop(key)
            self.queue.append(Report(key[0], key[1], self.levels[key], message, None, self._since_logged.pop(key)))
        written = 0
        while self.queue:
            report = self.queue.popleft()
            if report.repeated:
                logger.log(
                    report.level,
                    "%s (%d more time(s) in the last %.0f s)",
                    report.message,
                    report.repeated,
                    self.interval_s,
                )
            else:
                logger.log(report.level, "%s", report.message, exc_info=report.exc)
            written += 1
        return written
