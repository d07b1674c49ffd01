"""The vendored specification tables: in sync with the shared spec, sizes as published, names as documented."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path
from types import ModuleType

import pytest

from bridge.games.f1 import enums
from bridge.games.f1.layouts import HEADER_SIZE, LAYOUTS, SUPPORTED_FORMATS, Record, snake

ROOT = Path(__file__).resolve().parents[3]
SHARED_SPEC = ROOT.parent / "shared" / "spec"
VENDORED = ROOT / "bridge" / "games" / "f1" / "spec"

# Whole-datagram sizes as published (spec section 3, "Packet ids, total sizes and send rates").
PUBLISHED_SIZES: dict[int, dict[int, int]] = {
    2023: {0: 1349, 1: 644, 2: 1131, 3: 45, 4: 1306, 5: 1107, 6: 1352, 7: 1239, 8: 1020, 9: 1218, 10: 953,
           11: 1460, 12: 231, 13: 217},
    2024: {0: 1349, 1: 753, 2: 1285, 3: 45, 4: 1350, 5: 1133, 6: 1352, 7: 1239, 8: 1020, 9: 1306, 10: 953,
           11: 1460, 12: 231, 13: 237, 14: 101},
    2025: {0: 1349, 1: 753, 2: 1285, 3: 45, 4: 1284, 5: 1133, 6: 1352, 7: 1239, 8: 1042, 9: 954, 10: 1041,
           11: 1460, 12: 231, 13: 273, 14: 101, 15: 1131},
    2026: {0: 1325, 1: 926, 2: 1399, 3: 45, 4: 1470, 5: 1233, 6: 1448, 7: 1445, 8: 1134, 9: 1062, 10: 1133,
           11: 1460, 12: 231, 13: 273, 14: 104, 15: 1231, 16: 269},
}

# The per-car array of each packet id (one record per vehicle index).
CAR_ARRAYS = {
    0: "carMotionData",
    2: "lapData",
    4: "participants",
    5: "carSetupData",
    6: "carTelemetryData",
    7: "carStatusData",
    8: "classificationData",
    9: "lobbyPlayers",
    10: "carDamageData",
    16: "carTelemetry2Data",
}
EXPECTED_CARS = {2023: 22, 2024: 22, 2025: 22, 2026: 24}


def load_import_tool() -> ModuleType:
    path = ROOT / "tools" / "import_spec.py"
    spec = importlib.util.spec_from_file_location("rigbridge_import_spec", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shared_spec() -> Path:
    if not (SHARED_SPEC / "f1_layouts.json").is_file() or not (SHARED_SPEC / "f1_enums.json").is_file():
        pytest.skip(f"shared specification not found at {SHARED_SPEC} (f1_layouts.json, f1_enums.json)")
    return SHARED_SPEC


# -- vendored tables --------------------------------------------------------------------------------------


def test_vendored_tables_equal_what_the_import_tool_builds(shared_spec: Path) -> None:
    built = load_import_tool().build(shared_spec)
    assert set(built) == {"layouts.json", "enums.json"}
    for name, text in built.items():
        vendored = (VENDORED / name).read_text(encoding="utf-8")
        assert vendored == text, f"bridge/games/f1/spec/{name} is stale: run tools/import_spec.py"


def test_every_published_field_offset_matches_the_compiled_layout(shared_spec: Path) -> None:
    """Offsets come from the spec's own tables; ours are derived from the struct letters alone."""
    spec = json.loads((shared_spec / "f1_layouts.json").read_text(encoding="utf-8"))
    checked = 0
    for year, fmt in spec["formats"].items():
        for pid, p in fmt["packets"].items():
            layout = LAYOUTS.get(int(year), int(pid))
            assert layout.size == p["size"] == p["publishedSize"], (year, pid)
            body = layout.record.fields[len(LAYOUTS.header.fields) :]
            assert [f.name for f in body] == [f["name"] for f in p["fields"]], (year, pid)
            offset = HEADER_SIZE
            for ours, theirs in zip(body, p["fields"], strict=True):
                assert offset == theirs["offset"], (year, pid, ours.name)
                assert ours.size == theirs["size"], (year, pid, ours.name)
                offset += ours.size
                checked += 1
            assert offset == layout.size
    assert checked > 500


# -- sizes and car slots ------------------------------------------------------------------------------------


def test_all_62_layouts_compile_to_the_published_size() -> None:
    expected = {(fmt, pid): size for fmt, ids in PUBLISHED_SIZES.items() for pid, size in ids.items()}
    assert len(expected) == 62
    assert set(LAYOUTS.packets) == set(expected)
    for key, size in expected.items():
        layout = LAYOUTS.packets[key]
        assert layout.struct.size == size, key
        assert layout.size == size, key
        assert struct.calcsize("<" + layout.record.fmt) == size, key


def test_header_is_29_bytes_and_identical_in_every_format() -> None:
    assert LAYOUTS.header_struct.size == HEADER_SIZE == 29
    assert LAYOUTS.header_struct.format == "<HBBBBBQfIIBB"
    for layout in LAYOUTS.packets.values():
        head = layout.record.fields[: len(LAYOUTS.header.fields)]
        assert [(f.name, f.type) for f in head] == [(f.name, f.type) for f in LAYOUTS.header.fields]


def test_formats_and_ids() -> None:
    assert tuple(sorted(LAYOUTS.formats)) == SUPPORTED_FORMATS == (2023, 2024, 2025, 2026)
    assert {fmt: len(ids) for fmt, ids in LAYOUTS.formats.items()} == {2023: 14, 2024: 15, 2025: 16, 2026: 17}


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_car_arrays_have_22_slots_up_to_2025_and_24_in_2026(fmt: int) -> None:
    cars = EXPECTED_CARS[fmt]
    assert LAYOUTS.num_cars[fmt] == cars
    seen = 0
    for pid, layout in LAYOUTS.formats[fmt].items():
        assert layout.num_cars == cars
        if pid in CAR_ARRAYS and (pid != 16 or fmt == 2026):
            arr = layout.record[CAR_ARRAYS[pid]]
            assert arr.record is not None and arr.count == cars, (fmt, pid)
            seen += 1
    assert seen == (10 if fmt == 2026 else 9)
    if 15 in LAYOUTS.formats[fmt]:  # LapPositions: [50 laps][N cars], flattened lap-major
        assert LAYOUTS.get(fmt, 15).record["positionForVehicleIdx"].count == 50 * cars


def test_2026_changes_are_in_the_records() -> None:
    motion = LAYOUTS.get(2026, 0).record["carMotionData"].record
    assert motion is not None and motion.size == 54
    assert [motion[n].type for n in ("gForceLateral", "gForceLongitudinal", "gForceVertical")] == ["h"] * 3
    telemetry = LAYOUTS.get(2026, 6).record["carTelemetryData"].record
    assert telemetry is not None and telemetry["engineTemperature"].type == "B"
    telemetry_2025 = LAYOUTS.get(2025, 6).record["carTelemetryData"].record
    assert telemetry_2025 is not None and telemetry_2025["engineTemperature"].type == "H"
    participant = LAYOUTS.get(2026, 4).record["participants"].record
    assert participant is not None and participant["teamId"].type == "H" and participant["name"].count == 32
    assert LAYOUTS.get(2024, 4).record["participants"].record["name"].count == 48  # type: ignore[index]


# -- enumerations ---------------------------------------------------------------------------------------------


def test_enum_lookups_tolerate_unknown_ids() -> None:
    assert enums.label("teamId", 2024, 9999) == "unknown(9999)"
    assert enums.slug("teamId", 2024, 9999) == "unknown_9999"
    assert enums.label("flag", 2023, -7) == "unknown(-7)"
    assert enums.slug("flag", 2023, -7) == "unknown_-7"
    assert enums.label("actualTyreCompound", 2023, 0) == "unknown(0)"  # unused slot (spec pitfall 3)
    assert enums.label("weather", 1999, 1) == "unknown(1)"  # a format without tables
    assert enums.table("weather", 1999) == {}
    assert enums.label("weather", 2024, 1) == "Light cloud"
    assert enums.slug("visualTyreCompound", 2025, 16) == "soft"
    assert enums.flags("buttonFlags", 2024, 0) == []


def test_enum_tables_are_defined_for_every_format() -> None:
    for name in ("trackId", "teamId", "sessionType", "weather", "actualTyreCompound", "resultStatus"):
        for fmt in SUPPORTED_FORMATS:
            assert enums.table(name, fmt), (name, fmt)
    assert enums.table("recoveryMode", 2023) == {}  # the 2024 Session settings block did not exist yet
    assert enums.table("recoveryMode", 2024)


def test_bit_flags() -> None:
    assert enums.is_bits("buttonFlags") and not enums.is_bits("weather")
    table = enums.table("buttonFlags", 2024)
    mask, name = next(iter(table.items()))
    assert enums.flags("buttonFlags", 2024, mask) == [name]
    all_bits = 0
    for m in table:
        all_bits |= m
    assert len(enums.flags("buttonFlags", 2024, all_bits | 1 << 40)) == len(table)


def test_session_types_were_renumbered_in_2024() -> None:
    assert enums.label("sessionType", 2023, 10) == "Race"
    assert enums.label("sessionType", 2023, 13) == "Time Trial"
    for fmt in (2024, 2025, 2026):
        assert enums.label("sessionType", fmt, 15) == "Race", fmt
        assert enums.label("sessionType", fmt, 18) == "Time Trial", fmt
        assert enums.label("sessionType", fmt, 10) != "Race", fmt
    assert enums.label("sessionType", 2023, 15) != "Race"


# -- names ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("engineRPM", "engine_rpm"),
        ("revLightsBitValue", "rev_lights_bit_value"),
        ("sessionUID", "session_uid"),
        ("carTelemetryData", "car_telemetry_data"),
        ("sector1TimeMSPart", "sector1_time_ms_part"),
        ("CarTelemetry", "car_telemetry"),
        ("ERSAssist", "ers_assist"),
        ("vehicleFIAFlags", "vehicle_fia_flags"),
        ("weather", "weather"),
    ],
)
def test_snake_case_names(name: str, key: str) -> None:
    assert snake(name) == key


def _records(record: Record) -> list[Record]:
    out = [record]
    for f in record.fields:
        if f.record is not None:
            out.extend(_records(f.record))
    return out


def test_every_field_is_reachable_by_spec_name_and_by_snake_key_without_collisions() -> None:
    checked = 0
    for layout in LAYOUTS.packets.values():
        records = _records(layout.record) + [e.record for e in layout.events.values()]
        for record in records:
            keys = [f.key for f in record.fields]
            assert len(set(keys)) == len(keys), (layout.format, layout.packet_id, record.name)
            for f in record.fields:
                assert f.key == snake(f.name)
                assert record[f.name] is f and record[f.key] is f
                checked += 1
    assert checked > 2000
    assert LAYOUTS.get(2024, 6).key == "car_telemetry"
