"""The single-writer rule, enforced: only `process_*` functions assign state, and readers cannot mutate it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bridge.games.f1.codec import build
from bridge.games.f1.writer import process_packet
from bridge.state.session import SessionState
from bridge.state.view import readonly

STATE_DIR = Path(__file__).resolve().parents[2] / "bridge" / "state"
GAMES_DIR = STATE_DIR.parent / "games"
MUTATING_METHODS = {"append", "appendleft", "extend", "add", "pop", "popleft", "clear", "update", "remove",
                    "discard", "insert", "setdefault", "sort", "reverse"}
ALLOWED_FUNCTIONS = ("process_", "__init__")
# view.py wraps state and writes nothing; changes.py is the change-set container the writers fill (its methods are
# its own mutation, called from process_* only).
NOT_STATE = {"view.py", "__init__.py", "changes.py"}
STATE_NAMES = {"state", "car", "self", "aids", "model"}  # how the state modules name state objects


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def writes_outside_writers(source: str) -> list[str]:
    """Lines that assign or mutate through an attribute/subscript outside process_* (and constructors)."""
    found: list[str] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        allowed = function is None or function.startswith(ALLOWED_FUNCTIONS)
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, (ast.Attribute, ast.Subscript)) and root_name(target) in STATE_NAMES and not allowed:
                found.append(f"line {node.lineno} in {function}: {ast.unparse(target)}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATING_METHODS
            and root_name(node.func.value) in STATE_NAMES
            and not allowed
        ):
            found.append(f"line {node.lineno} in {function}: {ast.unparse(node.func)}()")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(source), None)
    return found


def test_only_process_functions_assign_state() -> None:
    # The neutral state, the racer's aids, and every game's writer (F1's is split: writer_laps.py, writer_events.py);
    # view.py wraps state and writes nothing.
    files = sorted([*STATE_DIR.glob("*.py"), *STATE_DIR.glob("aids/*.py"), *GAMES_DIR.glob("*/writer*.py")])
    names = {str(f.relative_to(STATE_DIR.parent)) for f in files}
    assert {"state/session.py", "state/derive.py", "state/racelog.py", "state/aids/hooks.py", "games/f1/writer.py",
            "games/f1/writer_laps.py", "games/f1/writer_events.py", "games/one_car/writer.py"} <= names
    offences = {str(f.relative_to(STATE_DIR.parent)): writes_outside_writers(f.read_text())
                for f in files if f.name not in NOT_STATE}
    assert {name: lines for name, lines in offences.items() if lines} == {}


def test_the_lint_catches_a_write_outside_a_writer() -> None:
    bad = "def publish(state):\n    state.cars[0].laps[1] = None\n    state.events.append(1)\n    cache[1] = 2\n"
    assert len(writes_outside_writers(bad)) == 2
    good = "def process_x(state):\n    state.cars[0].laps[1] = None\n"
    assert writes_outside_writers(good) == []


def test_readers_cannot_mutate_state_through_the_view() -> None:
    state = SessionState()
    process_packet(state, build(2024, 2, {"lapData": [{"resultStatus": 2, "carPosition": 1}]}, session_uid=7))
    state.cars[0].laps[1] = "lap one"  # a writer-owned container, to try through the view
    view = readonly(state)
    car = view.cars[0]
    attempts = [
        lambda: setattr(view, "session_uid", 1),
        lambda: setattr(car, "best_lap_ms", 1),
        lambda: setattr(car, "position", 3),
        lambda: view.cars.__setitem__(0, None),
        lambda: car.laps.__setitem__(1, None),
        lambda: car.laps.pop(1),
        lambda: delattr(view, "latest"),
        lambda: view.latest.__delitem__(2),
        lambda: view.best_sectors.__setitem__(0, None),
        lambda: view.active.append(5),
        lambda: car.stints.append(None),
        lambda: view.events.append(None),
        lambda: view.changed.add("x"),
        lambda: object.__setattr__(view, "x", 1),
    ]
    for attempt in attempts:
        with pytest.raises((AttributeError, TypeError)):
            attempt()
    # Reading works and sees the writer's values; the writer's objects are untouched.
    assert car.position == 1 and view.session_uid == 7 and car.laps[1] == "lap one"
    assert state.session_uid == 7 and state.cars[0].best_lap_ms is None and state.cars[0].laps == {1: "lap one"}
