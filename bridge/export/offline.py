"""`rigbridge export CAPTURE... [-o DIR] [--csv]`: the session files of recorded races, without a game or a broker.

Each capture is played through the same pipeline as `rigbridge run` (the registry names the game from the first
datagram it recognises, the game's writer folds each datagram into a fresh state) and the same tracker and ledger
as the live export, so a recording gives the files the live bridge wrote. A session's start time is the
capture's clock (its header's wall time plus the record's offset); a gap of `--idle` seconds between two recorded
datagrams ends a session as the game going silent does live.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bridge.export.files import csv_text, document_bytes, write_atomic
from bridge.export.tracker import ExportTracker
from bridge.games.registry import Game, identify
from bridge.ingest.capture import CaptureError, CaptureReader, check_capture_file
from bridge.state.session import SessionState
from bridge.state.view import readonly

__all__ = ["DEFAULT_IDLE_S", "ExportResult", "export_capture", "export_main"]

DEFAULT_IDLE_S = 60.0
PROGRESS_INTERVAL_S = 0.2
_BAR = 30


@dataclass
class ExportResult:
    """What one capture gave: the documents by file name (the last version of each), and what was skipped."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    ends: list[str] = field(default_factory=list)  # `ended_by` of every version handed on, in order
    datagrams: int = 0
    unrecognised: int = 0  # before a game was recognised, or a game the live pipeline cannot follow
    dropped: int = 0  # refused by the game's decoder
    failed: int = 0  # raised in the game's writer (given up, as the live bridge gives them up)
    first_failure: str = ""
    game: str = ""


class _Progress:
    """A one-line bar on a terminal: bytes of the capture read so far."""

    def __init__(self, err: TextIO, label: str, total: int) -> None:
        self.err, self.label, self.total = err, label, max(total, 1)
        self.next_at = 0.0

    def draw(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self.next_at:
            return
        self.next_at = now + PROGRESS_INTERVAL_S
        fraction = min(done / self.total, 1.0)
        filled = round(fraction * _BAR)
        self.err.write(f"\r{self.label[:36]:<36} [{'#' * filled}{'-' * (_BAR - filled)}] {fraction * 100:5.1f}%")
        self.err.flush()

    def end(self) -> None:
        self.draw(self.total, force=True)
        self.err.write("\n")
        self.err.flush()


def export_capture(path: Path, *, idle_s: float = DEFAULT_IDLE_S, progress: _Progress | None = None) -> ExportResult:
    """Play one capture through a game's writer and the export tracker; raises CaptureError or OSError."""
    result = ExportResult()
    state = SessionState()
    reader = CaptureReader(path)
    clock = [0]

    def emit(name: str, document: dict[str, Any]) -> None:
        result.documents[name] = document
        result.ends.append(document["session"]["ended_by"])

    tracker = ExportTracker(readonly(state), emit, lambda: reader.start_ns + clock[0])
    idle_ns = int(idle_s * 1e9)
    game: Game | None = None
    last_t: int | None = None
    for record in reader:
        result.datagrams += 1
        if last_t is not None and record.t_ns - last_t >= idle_ns:
            tracker.idle()
        last_t = clock[0] = record.t_ns
        if game is None:
            found = identify(record.data)
            if found is None or found.process is None:
                result.unrecognised += 1
                continue
            game, result.game = found, found.key
        packet = game.decode(record.data)
        if not packet:
            result.dropped += 1
            continue
        assert game.process is not None
        try:
            changed = game.process(state, packet)
        except Exception as exc:
            result.failed += 1
            result.first_failure = result.first_failure or f"{type(exc).__name__}: {exc}"
            continue
        if changed:
            tracker.on_change(changed)
        if progress is not None:
            progress.draw(reader.valid_bytes)
    tracker.finish("capture_end")
    return result


def _problem(path: Path) -> str | None:
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory, not a capture file"
    problem = check_capture_file(path)
    if problem is None and path.stat().st_size == 0:
        return "empty file, not a capture"
    return problem


def _output_problem(directory: Path) -> str | None:
    if directory.exists() and not directory.is_dir():
        return "not a directory"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create it: {exc.strerror or exc}"
    if not os.access(directory, os.W_OK | os.X_OK):
        return "not writable"
    return None


def export_main(captures: list[str], *, out_dir: str = ".", write_csv: bool = False, idle_s: float = DEFAULT_IDLE_S,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Export every capture's sessions into `out_dir`; prints each file written. 0, or 1 after a failure, 2 when
    an argument is wrong (a capture missing or invalid, the folder not writable): nothing is written then."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    paths = [Path(p) for p in captures]
    bad = [(p, problem) for p in paths if (problem := _problem(p)) is not None]
    for p, problem in bad:
        print(f"rigbridge export: {p}: {problem}", file=err)
    directory = Path(out_dir)
    problem = _output_problem(directory)
    if problem is not None:
        print(f"rigbridge export: {directory}: {problem}", file=err)
    if bad or problem is not None:
        return 2
    status = 0
    for path in paths:
        progress = _Progress(err, path.name, path.stat().st_size) if err.isatty() else None
        try:
            result = export_capture(path, idle_s=idle_s, progress=progress)
        except (CaptureError, OSError) as exc:
            print(f"rigbridge export: {path}: {exc}", file=err)
            status = 1
            continue
        finally:
            if progress is not None:
                progress.end()
        if result.failed:
            print(f"rigbridge export: {path}: {result.failed} datagram(s) given up, the game's writer failed on them "
                  f"(first: {result.first_failure})", file=err)
        if not result.documents:
            reason = "no game this bridge follows" if not result.game else "no completed lap nor classification"
            print(f"rigbridge export: {path}: no session to export ({reason})", file=err)
            status = max(status, 1)
        for name, document in result.documents.items():
            try:
                written = [write_atomic(directory, name, document_bytes(document))]
                if write_csv:
                    csv_name = name.removesuffix(".json") + ".csv"
                    written.append(write_atomic(directory, csv_name, csv_text(document).encode()))
            except (OSError, ValueError) as exc:
                print(f"rigbridge export: cannot write {directory / name}: {exc}", file=err)
                status = 1
                continue
            for file in written:
                print(file, file=out)
    return status
