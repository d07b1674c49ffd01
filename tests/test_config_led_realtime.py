"""`lights.realtime`: LED devices over UDP, every value bounded, every mistake one `file:line: key: message` line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge.config import ConfigError, RealtimeDevice, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rigbridge.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    return [str(p) for p in info.value.problems]


def test_devices_load_with_their_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, """
        lights:
          leds: 12
          realtime:
            - target: 192.168.1.50:4048
            - {target: "wled-rig.local:21324", protocol: DNRGB, leds: 30, start: 100, reversed: true,
               brightness: 128, timeout_s: 5, flags: true}
    """)
    first, second = load_settings(path, env={}).lights.realtime
    assert first == RealtimeDevice(("192.168.1.50", 4048))
    assert (first.protocol, first.leds, first.start, first.timeout_s, first.flags) == ("ddp", None, 0, 2, False)
    assert second == RealtimeDevice(("wled-rig.local", 21324), "dnrgb", 30, 100, True, 128, 5, True)


@pytest.mark.parametrize(
    "entry,expected",
    [
        ("{target: 10.0.0.9}", "3: lights.realtime[0].target: must be \"host:port\" (expected \"host:port\")"
                               " (got '10.0.0.9')"),
        ("{target: 10.0.0.9:4048, protocol: e131}", "3: lights.realtime[0].protocol: must be one of: ddp, dnrgb, "
                                                    "drgb, warls (got 'e131')"),
        ("{target: 10.0.0.9:4048, leds: 0}", "3: lights.realtime[0].leds: must be an integer from 1 to 1024 (got 0)"),
        ("{target: 10.0.0.9:4048, start: -1}", "3: lights.realtime[0].start: must be an integer from 0 to 8191"
                                               " (got -1)"),
        ("{target: 10.0.0.9:4048, brightness: 256}", "3: lights.realtime[0].brightness: must be an integer from 0 "
                                                     "to 255 (got 256)"),
        ("{target: 10.0.0.9:4048, timeout_s: 255}", "3: lights.realtime[0].timeout_s: must be an integer from 1 to "
                                                    "254 (got 255)"),
        ("{target: 10.0.0.9:21324, protocol: warls, leds: 10, start: 250}",
         "3: lights.realtime[0].leds: WARLS addresses LEDs by a one-byte index: start + leds must be at most 255 "
         "(start 250 + leds 10) (got 10)"),
        ("{target: 10.0.0.9:21324, protocol: drgb, start: 5}",
         "3: lights.realtime[0].start: DRGB carries at most 490 LEDs, always from LED 0: use dnrgb or ddp for a "
         "segment further on (got 5)"),
        ("{target: 10.0.0.9:21324, protocol: warls, start: 250}",  # leds from lights.leds (15)
         "3: lights.realtime[0].start: WARLS addresses LEDs by a one-byte index: start + leds must be at most 255 "
         "(start 250 + leds 15) (got 250)"),
    ],
)
def test_each_bad_value_is_one_problem_with_its_line(tmp_path: Path, entry: str, expected: str) -> None:
    path = write(tmp_path, f"""
        lights:
          realtime:
            - {entry}
    """)
    assert problems(path) == [f"{path}:{expected}"]


def test_a_device_on_the_bridges_own_udp_port_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, """
        udp: {bind: 0.0.0.0, port: 20777}
        lights:
          realtime:
            - {target: 127.0.0.1:4048}
            - {target: localhost:20777, protocol: drgb}
    """)
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:5: lights.realtime[1].target: sends to the bridge's own port (localhost ")
    assert problem.endswith("): the bridge would receive its own LED frames (got 'localhost:20777')")


def test_check_config_prints_the_problem_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, """
        lights:
          realtime: [{target: "10.0.0.9:21324", protocol: warls, leds: 300}]
    """)
    result = subprocess.run([sys.executable, "-m", "bridge", "check-config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout.strip() == (f"{path}:2: lights.realtime[0].leds: WARLS addresses LEDs by a one-byte index: "
                                     "start + leds must be at most 255 (start 0 + leds 300) (got 300)")
    assert "Traceback" not in result.stderr


def test_more_than_16_devices_are_refused(tmp_path: Path) -> None:
    devices = "\n".join(f"    - target: 10.0.0.{n}:4048" for n in range(1, 18))
    path = write(tmp_path, "lights:\n  realtime:\n" + devices + "\n")
    assert problems(path) == [f"{path}:2: lights.realtime: at most 16 devices are supported (got 17 devices)"]


def test_the_commented_example_in_the_shipped_config_is_valid(tmp_path: Path) -> None:
    shipped = (Path(__file__).resolve().parent.parent / "config" / "rigbridge.yaml").read_text(encoding="utf-8")
    lines = shipped.splitlines()
    start = lines.index("  # realtime:")
    block = ["  realtime:"]
    for line in lines[start + 1 :]:
        if not line.startswith("  #   "):
            break
        block.append("  " + line[4:])
    path = write(tmp_path, "lights:\n" + "\n".join(block) + "\n")
    (device,) = load_settings(path, env={}).lights.realtime
    assert device == RealtimeDevice(("192.168.1.60", 4048), "ddp", 15, 0, False, 255, 2, False)


def test_two_entries_for_the_same_segment_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, """
        lights:
          realtime:
            - {target: "10.0.0.9:21324", protocol: dnrgb}
            - {target: "10.0.0.9:21324", protocol: dnrgb, start: 15}
            - {target: "10.0.0.9:21324", protocol: drgb}
    """)
    assert problems(path) == [f"{path}:5: lights.realtime[2].target: drives the same device from the same start as "
                              "lights.realtime[0]; give each segment its own start (got '10.0.0.9:21324')"]
