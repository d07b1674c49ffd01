"""Shared test fixtures: where the real game captures are."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.captures import captures_root

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def captures() -> Path:
    root = captures_root()
    if root is None:
        pytest.skip("real game captures not found: set RIGBRIDGE_CAPTURES or provide ../shared/captures")
    return root


@pytest.fixture(scope="session")
def parser_captures(captures: Path) -> Path:
    """Full datagrams (header included) from f1-game-packet-parser."""
    return captures / "f1-game-packet-parser"


@pytest.fixture(scope="session")
def png_captures(captures: Path) -> Path:
    """Packet bodies (header stripped) with expected decoder output, from pits-n-giggles."""
    return captures / "pits-n-giggles"


@pytest.fixture
def mosquitto(tmp_path: Path):
    """A real mosquitto on a free port with its own config, anonymous clients allowed."""
    from tests.broker import Mosquitto

    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()
