"""Real game datagrams through the writer: the state shows the values they carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.games.f1.codec import decode
from bridge.games.f1.writer import process_packet
from bridge.state.session import SessionState


def feed(root: Path, *names: str) -> SessionState:
    state = SessionState()
    for name in names:
        packet = decode((root / name).read_bytes())
        assert packet, name
        process_packet(state, packet)
    return state


@pytest.mark.parametrize("year", [2023, 2024])
def test_player_telemetry_and_names_from_real_datagrams(parser_captures: Path, year: int) -> None:
    state = feed(parser_captures, f"{year}-04.bin", f"{year}-02.bin", f"{year}-06.bin", f"{year}-07.bin")
    telemetry = decode((parser_captures / f"{year}-06.bin").read_bytes())
    participants = decode((parser_captures / f"{year}-04.bin").read_bytes())
    player = state.player
    assert player is not None and player.index == telemetry.player_car_index == 19
    record = telemetry["carTelemetryData"][19]
    assert player.speed_kph == record["speed"]
    assert player.gear == record["gear"]
    assert player.rpm == record["engineRPM"] and player.rpm > 0
    assert player.rev_lights_bits == record["revLightsBitValue"]
    assert player.rev_lights_pct == record["revLightsPercent"]
    assert player.tyre_pressures_psi == tuple(record["tyresPressure"])
    assert player.suggested_gear == telemetry["suggestedGear"]
    for car in state.active_cars:
        assert car.name == participants["participants"][car.index]["name"]
        assert car.name  # real drivers have names
    assert len(state.active) == participants["numActiveCars"]
    status = decode((parser_captures / f"{year}-07.bin").read_bytes())["carStatusData"][19]
    assert player.max_rpm == status["maxRPM"] and player.fuel_kg == status["fuelInTank"]


def test_session_values_from_real_datagram(parser_captures: Path) -> None:
    state = feed(parser_captures, "2023-01.bin")
    assert (state.track_id, state.track_length_m, state.session_type_id, state.total_laps) == (0, 5276, 10, 5)
    assert state.packet_format == 2023 and state.game_version == "1.21"


def test_real_lap_data_positions_form_a_permutation(parser_captures: Path) -> None:
    for year in (2023, 2024):
        state = feed(parser_captures, f"{year}-02.bin")
        positions = sorted(car.position for car in state.active_cars)
        assert positions == list(range(1, len(positions) + 1))
