"""Fixtures of the fault matrix: everything a case starts is stopped afterwards, in reverse order."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.broker import MOSQUITTO
from tests.publish.test_mqtt_broker import race_frames
from tests.reliability.helpers import Frames


@pytest.fixture
def closing() -> Iterator[contextlib.ExitStack]:
    """Register what a case starts (broker, bridge, feeder, subscriber, proxy); unwound last-in first-out."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (.ci/run installs the Debian package)")
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def race() -> Frames:
    """The first 60 s of a 20-car race (format 2025, Austria: lights out at 9 s), generated once per run."""
    return race_frames(60.0)
