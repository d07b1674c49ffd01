"""The ends of sessions: when a session's document is due, for the live service and the offline export alike.

A session ends, and its document is handed on, when:

- the game sends its final classification (F1; the document is handed on again if the game adds to it after,
  e.g. the SessionHistory burst that follows the results screen);
- the game says the session ended (F1's SEND event) or that it left the race (Forza's `IsRaceOn` 0);
- a new session starts: the writer has already reset the state, but the ledger gathered the previous session
  as it happened (see `document.py`), so its document is complete;
- the game goes silent for `export.idle_s` (`idle()`, called by the service's task, or by the offline export
  for a gap that long between two recorded datagrams);
- the bridge stops, or the capture ends (`finish()`).

A document is handed on only when its session completed a lap or was classified, and only when it changed
since it was last handed on; each hand-on replaces the session's file (same name: start time, track, type).
After an end, laps starting over from the first (Forza's next race, which comes without a new session) start a
new document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.export.document import SessionLedger
from bridge.export.files import file_name
from bridge.state import changes as groups
from bridge.state.changes import Changes

__all__ = ["Emit", "ExportTracker"]

Emit = Callable[[str, dict[str, Any]], None]  # (file name, document)



class ExportTracker:
    """Keeps the current session's ledger and calls `emit(name, document)` at each end of a session.

    `view` is the read-only `SessionView` (`bridge/state/view.py`; its game values are properties made at run time,
    hence `Any` here)."""

    def __init__(self, view: Any, emit: Emit, clock_ns: Callable[[], int]) -> None:
        self.view = view
        self.emit = emit
        self.clock_ns = clock_ns  # wall clock, ns: the start time of a session is its first datagram's
        self.ledger: SessionLedger | None = None
        self.ended = False  # the current session had an end (its document was handed on at least once)
        self._emitted_version = -1
        self._session_ended = False
        self._event_seq = view.event_seq  # the last event seen: later ones belong to the session that follows
        self.documents = 0  # documents handed on

    def on_change(self, changed: Changes) -> None:
        """After each packet that changed the state (the writer's change set)."""
        ledger = self.ledger
        names = changed.groups
        if ledger is not None and (groups.RESET in names or (self.ended and self._laps_went_back(changed))):
            self.finish("new_session")
            ledger = None
        if ledger is None:
            ledger = self._start()
        ledger.update(changed)
        view = self.view
        if groups.CLASSIFICATION in names:
            self.finish("classification")
        if groups.EVENTS in names and view.session_ended != self._session_ended:
            self._session_ended = view.session_ended
            if self._session_ended:
                self.finish("session_end")
        if groups.SESSION in names and getattr(view, "racing", None) is False:
            self.finish("left_race")
        self._event_seq = view.event_seq

    def idle(self) -> None:
        """The game has been silent for `export.idle_s`."""
        self.finish("idle")

    def finish(self, reason: str) -> None:
        """Hand on the current session's document if it is worth a file and changed since last time."""
        ledger = self.ledger
        if ledger is None or not ledger.has_content:
            return
        self.ended = True
        if ledger.version == self._emitted_version:
            return
        self._emitted_version = ledger.version
        document = ledger.document(reason)
        session = document["session"]
        name = file_name(ledger.started_ns, str(session.get("track") or ledger.game), str(session.get("type") or ""))
        self.documents += 1
        self.emit(name, document)

    def _start(self) -> SessionLedger:
        self.ledger = SessionLedger(self.view, self.clock_ns(), self._event_seq)
        self.ended = False
        self._emitted_version = -1
        self._session_ended = self.view.session_ended
        return self.ledger

    def _laps_went_back(self, changed: Changes) -> bool:
        """A car that had laps has none now: the game started over without a new session (a flashback forgets
        only the laps after the one it goes back to, and stays in the same document)."""
        if groups.LAPS not in changed.cars or self.ledger is None:
            return False
        view = self.view
        for index, kept in self.ledger.cars.items():
            if kept.laps and index < view.num_slots and not view.car(index).laps:
                return True
        return False
