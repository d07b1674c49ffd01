"""`rigbridge decode`: the JSON-lines contract of DESIGN section 4, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.games.f1.codec import build, encode
from bridge.ingest.capture import CaptureWriter

ROOT = Path(__file__).resolve().parents[3]
HEADER_KEYS = [
    "packet_format",
    "game_year",
    "game_major_version",
    "game_minor_version",
    "packet_version",
    "packet_id",
    "session_uid",
    "session_time",
    "frame_identifier",
    "overall_frame_identifier",
    "player_car_index",
    "secondary_player_car_index",
]


def rigbridge_decode(*files: Path | str) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "decode", *map(str, files)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )
    lines = proc.stdout.splitlines()
    objects = [json.loads(line, parse_constant=_reject_constant) for line in lines]
    assert all(isinstance(o, dict) for o in objects)
    return proc.returncode, objects, proc.stderr


def _reject_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


@pytest.fixture(scope="module")
def real_output(parser_captures: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    """One run over every real 2023/2024 datagram (suspect wrong-length files left out)."""
    suspects = ("2024-03-RDFL.bin", "2024-03-SCAR.bin")
    files = sorted(p for p in parser_captures.glob("202[34]-*.bin") if p.name not in suspects)
    assert len(files) > 60
    code, objects, _ = rigbridge_decode(*files)
    assert len(objects) == len(files)  # one object per datagram, in argument order
    return code, {p.name: o for p, o in zip(files, objects, strict=True)}


def test_good_files_exit_0_with_one_object_each(real_output: tuple[int, dict[str, dict[str, Any]]]) -> None:
    code, by_file = real_output
    assert code == 0
    for name, obj in by_file.items():
        assert "error" not in obj, name
        assert list(obj)[:2] == ["header", "packet"], name
        assert list(obj["header"]) == HEADER_KEYS, name
        assert obj["header"]["packet_format"] == int(name[:4])
        assert obj["header"]["packet_id"] == int(name[5:7])
        assert obj["header"]["player_car_index"] in (0, 19), name  # 0 in the BUTN and Time Trial captures
        assert isinstance(obj["header"]["session_uid"], int)
    assert sum(o["header"]["player_car_index"] == 19 for o in by_file.values()) >= len(by_file) - 3


def test_packet_names_and_snake_case_keys(real_output: tuple[int, dict[str, dict[str, Any]]]) -> None:
    _, by_file = real_output
    expected_names = {
        "00": "motion", "01": "session", "02": "lap_data", "03": "event", "04": "participants",
        "05": "car_setups", "06": "car_telemetry", "07": "car_status", "08": "final_classification",
        "09": "lobby_info", "10": "car_damage", "11": "session_history", "12": "tyre_sets", "13": "motion_ex",
        "14": "time_trial",
    }  # fmt: skip
    for name, obj in by_file.items():
        assert obj["packet"] == expected_names[name[5:7]], name

        def walk(value: Any, where: str) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    assert key == key.lower() and " " not in key and "-" not in key, f"{where}.{key}"
                    walk(item, f"{where}.{key}")
            elif isinstance(value, list):
                for item in value:
                    walk(item, where)

        walk(obj, f"{name}: ")

    telemetry = by_file["2024-06.bin"]
    assert len(telemetry["car_telemetry_data"]) == 22
    car = telemetry["car_telemetry_data"][19]
    for key in ("engine_rpm", "rev_lights_bit_value", "rev_lights_percent", "tyres_surface_temperature"):
        assert key in car
    assert len(car["tyres_pressure"]) == 4 and all(isinstance(v, float) for v in car["tyres_pressure"])
    assert {"mfd_panel_index", "mfd_panel_index_secondary_player", "suggested_gear"} <= set(telemetry)
    assert "session_uid" in telemetry["header"]


def test_every_car_slot_is_kept(real_output: tuple[int, dict[str, dict[str, Any]]]) -> None:
    _, by_file = real_output
    arrays = {"00": "car_motion_data", "02": "lap_data", "04": "participants", "05": "car_setup_data",
              "06": "car_telemetry_data", "07": "car_status_data", "08": "classification_data",
              "09": "lobby_players", "10": "car_damage_data"}  # fmt: skip
    for name, obj in by_file.items():
        key = arrays.get(name[5:7])
        if key:
            assert len(obj[key]) == 22, name  # all slots, even when fewer cars are active


def test_enums_stay_numbers_and_strings_are_clean(real_output: tuple[int, dict[str, dict[str, Any]]]) -> None:
    _, by_file = real_output
    session = by_file["2024-01.bin"]
    assert (session["track_id"], session["track_length"], session["session_type"]) == (3, 5408, 15)
    assert all(isinstance(session[k], int) for k in ("weather", "formula", "safety_car_status", "game_mode"))
    assert isinstance(session["weekend_structure"], list) and len(session["weekend_structure"]) == 12
    assert session["sector2_lap_distance_start"] == pytest.approx(1804.6, abs=0.1)
    old = by_file["2023-01.bin"]
    assert (old["track_id"], old["track_length"], old["session_type"]) == (0, 5276, 10)
    status = by_file["2024-07.bin"]["car_status_data"][19]
    assert isinstance(status["actual_tyre_compound"], int) and isinstance(status["visual_tyre_compound"], int)

    for name in ("2023-04.bin", "2024-04.bin"):
        participants = by_file[name]["participants"]
        player = participants[19]["name"]
        assert isinstance(player, str) and player.strip(), name
        for p in participants:
            assert isinstance(p["name"], str) and "\0" not in p["name"]
            assert isinstance(p["team_id"], int) and isinstance(p["nationality"], int)
        assert sum(1 for p in participants if p["name"]) >= by_file[name]["num_active_cars"]


def test_event_details(real_output: tuple[int, dict[str, dict[str, Any]]]) -> None:
    _, by_file = real_output
    fastest = by_file["2023-03-FTLP.bin"]
    assert fastest["packet"] == "event"
    assert fastest["event_string_code"] == "FTLP"
    assert fastest["event_details"]["vehicle_idx"] == 7
    assert fastest["event_details"]["lap_time"] == pytest.approx(85.79, abs=0.001)
    trap = by_file["2024-03-SPTP.bin"]["event_details"]
    assert trap["vehicle_idx"] == 1 and trap["speed"] == pytest.approx(268.11, abs=0.01)
    assert by_file["2024-03-FLBK.bin"]["event_details"]["flashback_frame_identifier"] == 528
    assert by_file["2024-03-SSTA.bin"]["event_details"] == {}


def test_a_bad_file_prints_an_error_object_and_exits_1(parser_captures: Path) -> None:
    good = parser_captures / "2024-06.bin"
    bad = parser_captures / "2022-06.bin"
    code, objects, _ = rigbridge_decode(good, bad, good)
    assert code == 1
    assert len(objects) == 3
    assert objects[0]["packet"] == "car_telemetry" and objects[2] == objects[0]
    error = objects[1]
    assert error["error"] == "unknown_format"
    assert error["size"] == bad.stat().st_size
    assert error["packet_format"] == 2022
    assert error["file"] == str(bad)
    assert "header" not in error

    code, objects, _ = rigbridge_decode(parser_captures / "2024-03-SCAR.bin")  # 47 bytes for a 45-byte packet
    assert code == 1 and objects[0]["error"] == "wrong_size" and objects[0]["size"] == 47


def test_a_missing_file_fails_without_stopping_the_others(parser_captures: Path, tmp_path: Path) -> None:
    code, objects, err = rigbridge_decode(tmp_path / "nope.bin", parser_captures / "2023-06.bin")
    assert code == 1
    assert [o["packet"] for o in objects] == ["car_telemetry"]
    assert "nope.bin" in err


def test_a_capture_file_decodes_record_by_record(parser_captures: Path, tmp_path: Path) -> None:
    names = ["2024-01.bin", "2024-06.bin", "2023-03-FTLP.bin", "2024-04.bin"]
    datagrams = [(parser_captures / n).read_bytes() for n in names]
    garbage = b"\x00\x01 not a datagram"
    capture = tmp_path / "race.rbcap"
    with CaptureWriter(capture) as writer:
        for i, data in enumerate(datagrams[:2]):
            writer.write(data, t_ns=i * 1_000_000)
        writer.write(garbage, t_ns=3_000_000)
        for i, data in enumerate(datagrams[2:]):
            writer.write(data, t_ns=(4 + i) * 1_000_000)

    code, objects, _ = rigbridge_decode(capture)
    assert code == 1
    assert len(objects) == 5
    assert [o.get("packet") for o in objects] == ["session", "car_telemetry", None, "event", "participants"]
    assert objects[2]["error"] == "too_short" and objects[2]["size"] == len(garbage)
    assert objects[2]["file"] == str(capture)

    # Each record decodes exactly as the same datagram in its own file.
    _, singles, _ = rigbridge_decode(*(parser_captures / n for n in names))
    assert [o for o in objects if "error" not in o] == singles

    clean = tmp_path / "clean.rbcap"
    with CaptureWriter(clean) as writer:
        for data in datagrams:
            writer.write(data)
    code, objects, _ = rigbridge_decode(clean)
    assert code == 0 and objects == singles


def test_24_car_slots_and_non_finite_floats(tmp_path: Path) -> None:
    """A 2026 packet keeps its 24 slots; NaN/infinity (not JSON) print as null, never as bare NaN."""
    packet = build(
        2026,
        6,
        {"carTelemetryData": [{"engineRPM": 11000, "throttle": float("nan")}, {"brake": float("inf")}]},
        frame=77,
        session_uid=2**64 - 1,
    )
    path = tmp_path / "2026-06.bin"
    path.write_bytes(encode(packet))
    names = build(2026, 4, {"numActiveCars": 1, "participants": [{"name": "Pérez…"}, {"name": b"\xffbad"}]})
    names_path = tmp_path / "2026-04.bin"
    names_path.write_bytes(encode(names))

    code, objects, _ = rigbridge_decode(path, names_path)
    assert code == 0
    telemetry, participants = objects
    assert telemetry["header"]["packet_format"] == 2026 and telemetry["header"]["game_year"] == 25
    assert telemetry["header"]["session_uid"] == 2**64 - 1 and telemetry["header"]["frame_identifier"] == 77
    assert len(telemetry["car_telemetry_data"]) == 24
    assert telemetry["car_telemetry_data"][0]["engine_rpm"] == 11000
    assert telemetry["car_telemetry_data"][0]["throttle"] is None
    assert telemetry["car_telemetry_data"][1]["brake"] is None
    assert telemetry["car_telemetry_data"][23]["engine_rpm"] == 0
    assert len(participants["participants"]) == 24
    assert participants["participants"][0]["name"] == "Pérez…"
    assert participants["participants"][1]["name"] == "\ufffdbad"
    assert participants["participants"][2]["name"] == ""


def test_help_has_an_example() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "decode", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0
    assert "example" in proc.stdout and "rigbridge decode" in proc.stdout


def _decode_peak_rss_kb(path: Path) -> tuple[int, int]:
    """`rigbridge decode PATH > /dev/null`: its exit code and its own peak RSS in kB (wait4: this child only)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "decode", str(path)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss


def test_a_large_capture_decodes_in_constant_memory(parser_captures: Path, tmp_path: Path) -> None:
    """40 MB of capture must not cost 40 MB of memory: records are read, decoded and printed one at a time."""
    telemetry = (parser_captures / "2024-06.bin").read_bytes()
    padded = telemetry + bytes(60_000)  # decodes to a wrong_size error line: cheap, and as large as they come
    small, large = tmp_path / "small.rbcap", tmp_path / "large.rbcap"
    with CaptureWriter(small) as writer:
        writer.write(telemetry, 0)
        writer.write(padded, 1)
    with CaptureWriter(large) as writer:
        for i in range(660):
            writer.write(telemetry, 2 * i)
            writer.write(padded, 2 * i + 1)
    size_kb = large.stat().st_size // 1024
    assert size_kb > 39_000

    code_small, baseline_kb = _decode_peak_rss_kb(small)
    code_large, peak_kb = _decode_peak_rss_kb(large)
    assert code_small == code_large == 1  # the padded records are errors
    assert peak_kb - baseline_kb < size_kb / 4, (peak_kb, baseline_kb, size_kb)


def test_output_starts_before_the_whole_capture_is_read(parser_captures: Path, tmp_path: Path) -> None:
    """`rigbridge decode big.rbcap | head -1`: the first line comes at once, and the early exit is no error."""
    telemetry = (parser_captures / "2024-06.bin").read_bytes()
    path = tmp_path / "long.rbcap"
    with CaptureWriter(path) as writer:
        for i in range(5000):
            writer.write(telemetry, i)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "decode", str(path)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    assert first["packet"] == "car_telemetry"
    proc.stdout.close()  # what head does after its line
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == b"", err


def test_damaged_capture_records_are_reported_not_silently_skipped(parser_captures: Path, tmp_path: Path) -> None:
    telemetry = (parser_captures / "2024-06.bin").read_bytes()
    path = tmp_path / "damaged.rbcap"
    with CaptureWriter(path) as writer:
        for i in range(3):
            writer.write(telemetry, i)
    raw = bytearray(path.read_bytes())
    raw[40] ^= 0xFF  # inside the first record's data: its CRC no longer matches
    path.write_bytes(bytes(raw[:-100]))  # and the last record cut short
    code, objects, err = rigbridge_decode(path)
    assert code == 1
    assert len(objects) == 1
    assert err.strip() == (
        f"rigbridge decode: {path}: 1 records skipped (CRC mismatch); capture cut short after 2 records"
    )
