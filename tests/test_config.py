"""Configuration loading: defaults, the shipped file, every value rule, and error reports with exact lines."""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from bridge import config
from bridge.config import (
    ConfigError,
    LedSegment,
    MqttSettings,
    Problem,
    Settings,
    check_config_main,
    default_rig_name,
    default_settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config" / "rigbridge.yaml"
DATA = Path(__file__).resolve().parent / "data" / "config"
NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str, name: str = "rigbridge.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=NO_ENV if env is None else env)
    return info.value.problems


def only_problem(path: Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def without_client_id(settings: Settings) -> Settings:
    return dataclasses.replace(settings, mqtt=dataclasses.replace(settings.mqtt, client_id="x"))


# --------------------------------------------------------------------------------------------------- defaults


def test_defaults() -> None:
    s = default_settings()
    assert (s.udp.bind, s.udp.port, s.udp.allow_from, s.udp.forward) == ("0.0.0.0", 20777, (), ())
    assert (s.udp.rcvbuf_bytes, s.udp.receive_timeout_s) == (4194304, 2.0)
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.base_topic, s.mqtt.keepalive, s.mqtt.protocol) == (
        "localhost",
        1883,
        "rigbridge",
        15,
        5,
    )
    assert re.fullmatch(r"[a-z0-9_-]{1,32}", s.mqtt.rig)
    assert (s.mqtt.username, s.mqtt.password, s.mqtt.password_file) == (None, None, None)
    assert s.mqtt.tls == config.TlsSettings(enabled=False, ca_file=None, cert_file=None, key_file=None)
    assert (s.mqtt.tls_insecure, s.mqtt.reconnect_min_s, s.mqtt.reconnect_max_s) == (False, 0.5, 30.0)
    assert (s.publish.cars, s.publish.include, s.publish.exclude, s.publish.deadbands) == ("all", (), (), ())
    assert (s.publish.rates.fast, s.publish.rates.normal, s.publish.rates.slow) == (10.0, 2.0, 0.2)
    assert s.publish.rates["slow"] == 0.2
    assert (s.publish.expiry_s, s.publish.qos_fast) == (600, 0)
    assert (s.metrics.enabled, s.metrics.bind, s.metrics.port) == (True, "127.0.0.1", 9464)
    assert not s.metrics.tls.enabled
    assert s.homeassistant == config.HomeAssistantSettings(
        enabled=True,
        discovery_prefix="homeassistant",
        groups=("session", "player", "lights", "bridge"),
        max_rate_hz=1.0,
    )
    assert (s.lights.leds, s.lights.brightness, s.lights.limiter_flash_hz) == (15, 255, 4.0)
    assert s.lights.profile == (LedSegment(5, "#00ff00"), LedSegment(5, "#ff0000"), LedSegment(5, "#0000ff"))
    assert s.lights.profile[0].rgb == (0, 255, 0)
    assert (s.lights.wled.enabled, s.lights.wled.topics) == (False, ())
    assert s.log.level == "info"


def test_settings_are_frozen_and_use_tuples() -> None:
    s = default_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.udp.port = 1  # type: ignore[misc]
    loaded = load_settings(DATA / "full.yaml", env=NO_ENV)
    for value in (loaded.udp.allow_from, loaded.udp.forward, loaded.publish.include, loaded.lights.profile):
        assert isinstance(value, tuple)
    hash(loaded)  # every field is immutable, so the whole settings object is hashable


def test_no_path_means_defaults_plus_env() -> None:
    s = load_settings(None, env={"RIGBRIDGE_MQTT_USERNAME": "u", "RIGBRIDGE_MQTT_PASSWORD": "p"})
    assert (s.mqtt.username, s.mqtt.password) == ("u", "p")
    assert without_client_id(load_settings(None, env=NO_ENV)) == without_client_id(default_settings())


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# another\n", "---\n", "~\n"])
def test_empty_file_means_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    assert without_client_id(load_settings(path, env=NO_ENV)) == without_client_id(default_settings())


def test_null_section_and_null_list_mean_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        mqtt:
        homeassistant:
          groups:
            # - cars
        lights: ~
        """,
    )
    s = load_settings(path, env=NO_ENV)
    assert s.mqtt.host == "localhost"
    assert s.homeassistant.groups == ("session", "player", "lights", "bridge")
    assert s.lights.leds == 15


def test_partial_sections_keep_other_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "publish:\n  rates: {fast: 20}\nmqtt:\n  port: 1884\n"), env=NO_ENV)
    assert (s.publish.rates.fast, s.publish.rates.normal, s.publish.rates.slow) == (20.0, 2.0, 0.2)
    assert (s.mqtt.port, s.mqtt.host) == (1884, "localhost")


# --------------------------------------------------------------------------------------------------- shipped file


def test_shipped_config_is_valid_and_equals_defaults() -> None:
    loaded = load_settings(SHIPPED, env=NO_ENV)
    assert without_client_id(loaded) == without_client_id(default_settings())


def test_shipped_config_lists_every_key_but_rig_and_client_id() -> None:
    data = YAML(typ="safe", pure=True).load(SHIPPED.read_text(encoding="utf-8"))

    def missing(cls: type, mapping: dict[str, object], prefix: str) -> list[str]:
        out = []
        for f in dataclasses.fields(cls):
            path = f"{prefix}{f.name}"
            if f.name not in mapping:
                out.append(path)
            elif isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
                out += missing(f.default_factory, mapping[f.name], f"{path}.")  # type: ignore[arg-type]
        return out

    assert missing(Settings, data, "") == ["mqtt.rig", "mqtt.client_id"]
    text = SHIPPED.read_text(encoding="utf-8")
    assert re.search(r"^\s*# rig: ", text, re.M) and re.search(r"^\s*# client_id: ", text, re.M)
    for line in text.splitlines():
        if re.match(r"\s*[a-z_]+:\s*\S", line):  # a key with a value on the line has a comment saying what it does
            assert " # " in line, line


def test_check_config_ok_on_shipped_file() -> None:
    out = io.StringIO()
    assert check_config_main(str(SHIPPED), out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{SHIPPED}: ok"
    assert "localhost:1883" in lines[1] and "rigbridge/" in lines[1]


def test_full_fixture_loads_every_non_default(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(DATA / "full.yaml", env=NO_ENV)
    assert s.udp.bind == "::"
    assert s.udp.allow_from == (
        ipaddress.ip_network("192.168.1.0/24"),
        ipaddress.ip_network("10.0.0.7/32"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert s.udp.forward == (("127.0.0.1", 20777), ("::1", 20779), ("dash.local", 30000))
    assert (s.udp.rcvbuf_bytes, s.udp.receive_timeout_s) == (65536, 5.0)
    assert isinstance(s.udp.receive_timeout_s, float)
    assert (s.mqtt.rig, s.mqtt.base_topic, s.mqtt.protocol, s.mqtt.client_id) == ("Rig_2", "home/sim", 311, "my-client")
    assert (s.mqtt.username, s.mqtt.password) == ("driver", "pw-from-file")
    assert s.mqtt.password_file == str(DATA / "password.txt")
    assert s.mqtt.tls.enabled and s.mqtt.tls.ca_file == str(DATA / "ca.pem")
    assert s.mqtt.tls_insecure is True
    assert s.publish.deadbands == (("player/speed", 1.0), ("cars/*/position", 0.0))
    assert (s.publish.cars, s.publish.expiry_s, s.publish.qos_fast) == ("player", 0, 1)
    assert s.metrics.tls.enabled and s.metrics.bind == "::1"
    assert s.homeassistant.groups == ("events", "cars")
    assert s.lights.profile == (LedSegment(2, "#ffa500"), LedSegment(6, "#123abc"))
    assert s.lights.wled.topics == ("wled/rig1", "wled/rig2")
    assert s.log.level == "debug"
    # the summary reflects the file; relative paths resolve against the file, not the working directory
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    assert check_config_main(str(DATA / "full.yaml"), out) == 0
    assert "broker.example.net:8883 (MQTT 3.1.1, TLS), rig Rig_2, topics home/sim/Rig_2/" in out.getvalue()


# --------------------------------------------------------------------------------------------------- error reports

THREE_PROBLEMS = """\
udp:
  port: 20777
  bnd: 0.0.0.0
mqtt:
  host: localhost
  port: abc
  keepalive: 15
  host: other
"""


def test_unknown_key_wrong_type_and_duplicate_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "rigbridge.yaml"
    path.write_text(THREE_PROBLEMS, encoding="utf-8")
    out = io.StringIO()
    assert check_config_main(str(path), out) == 2
    assert out.getvalue().splitlines() == [
        f"{path}:3: udp.bnd: unknown key; expected one of: bind, port, allow_from, forward, rcvbuf_bytes, "
        "receive_timeout_s, record, source, game; did you mean bind?",
        f"{path}:6: mqtt.port: must be an integer from 1 to 65535 (got 'abc')",
        f"{path}:8: mqtt.host: duplicate key; first defined on line 5",
    ]


def test_cli_check_config_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(THREE_PROBLEMS, encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2, bad.stderr
    lines = bad.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}:3: udp.bnd: unknown key; expected one of: bind, port")
    assert lines[1] == f"{path}:6: mqtt.port: must be an integer from 1 to 65535 (got 'abc')"
    assert lines[2] == f"{path}:8: mqtt.host: duplicate key; first defined on line 5"
    good = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", str(SHIPPED)], capture_output=True, text=True, check=False
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[0] == f"{SHIPPED}: ok"


def test_problem_and_error_rendering() -> None:
    p = Problem("rigbridge.yaml", 12, "mqtt.port", "must be an integer from 1 to 65535", "abc")
    assert str(p) == "rigbridge.yaml:12: mqtt.port: must be an integer from 1 to 65535 (got 'abc')"
    q = Problem("f.yaml", 3, "udp.x", "unknown key")
    assert str(q) == "f.yaml:3: udp.x: unknown key"
    assert str(ConfigError([p, q])) == f"{p}\n{q}"


def test_many_problems_collected_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        lights:
          leds: 0
          brightness: 256
        udp:
          rcvbuf_bytes: 1024
          receive_timeout_s: 0
        mqtt:
          keepalive: 4
          reconnect_min_s: 2
          reconnect_max_s: 1
        publish:
          cars: some
          expiry_s: -1
          qos_fast: 2
        homeassistant:
          groups: [session, weather, session]
        log:
          level: verbose
        bogus: 1
        """,
    )
    got = [(p.line, p.key) for p in problems_of(path)]
    assert got == [
        (2, "lights.leds"),
        (3, "lights.brightness"),
        (5, "udp.rcvbuf_bytes"),
        (6, "udp.receive_timeout_s"),
        (8, "mqtt.keepalive"),
        (10, "mqtt.reconnect_max_s"),
        (12, "publish.cars"),
        (13, "publish.expiry_s"),
        (14, "publish.qos_fast"),
        (16, "homeassistant.groups[1]"),
        (16, "homeassistant.groups[2]"),
        (18, "log.level"),
        (19, "bogus"),
    ]


def test_nested_and_list_item_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        udp:
          forward:
            - 127.0.0.1:30000
            - 127.0.0.1:30000
        mqtt:
          tls:
            enabled: true
            enabled: false
            verify: true
        """,
    )
    assert [str(p) for p in problems_of(path)] == [
        f"{path}:4: udp.forward[1]: listed twice; first on line 3 (got ('127.0.0.1', 30000))",
        f"{path}:8: mqtt.tls.enabled: duplicate key; first defined on line 7",
        f"{path}:9: mqtt.tls.verify: unknown key; expected one of: enabled, ca_file, cert_file, key_file",
    ]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("mqtt:\n  host: [a, b\n  port: 1\n", 3, "expected ',' or ']'"),
        ("mqtt:\n  host: 'open\n", 3, "unexpected end of stream"),
        ("udp:\n\tport: 1\n", 2, "'\\t'"),
        ("a: 1\n---\nb: 2\n", 2, "single document"),
        ("udp:\n  port: \x01\n", 2, "special characters"),
    ],
)
def test_yaml_syntax_error_has_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    problem = only_problem(path)
    assert (problem.file, problem.line, problem.key) == (str(path), line, "<file>")
    assert problem.message.startswith("not valid YAML: ") and fragment in problem.message


@pytest.mark.parametrize(("text", "got"), [("- udp\n- mqtt\n", "a list"), ("just text\n", "'just text'")])
def test_top_level_must_be_mapping(tmp_path: Path, text: str, got: str) -> None:
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.key) == (1, "<file>")
    sections = "udp, mqtt, publish, metrics, homeassistant, lights, log, export, games, tyres, pit"
    assert problem.message == f"the top level must be a mapping of sections: {sections}"
    assert str(problem).endswith(f"(got {got})")


def test_section_must_be_mapping(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "udp: 20777\n"))
    keys = "bind, port, allow_from, forward, rcvbuf_bytes, receive_timeout_s, record, source, game"
    assert str(problem).endswith(f":1: udp: must be a mapping with keys: {keys} (got 20777)")


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    out = io.StringIO()
    assert check_config_main(str(missing), out) == 2
    assert out.getvalue() == f"{missing}:1: <file>: cannot read file: No such file or directory\n"
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"udp:\n  bind: \xff\n")
    problem = only_problem(binary)
    assert (problem.line, problem.key, problem.message) == (2, "<file>", "not UTF-8 text")


def test_unsupported_tags_and_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        base: &base {port: 1884}
        mqtt:
          <<: *base
          host: !env BROKER
        """,
    )
    assert [(p.line, p.key) for p in problems_of(path)] == [(1, "base"), (3, "mqtt.<<"), (4, "mqtt.host")]


# --------------------------------------------------------------------------------------------------- value rules


@pytest.mark.parametrize(
    ("yaml_value", "stored"),
    [("5", 5), ("311", 311), ('"5"', 5), ("3.1.1", 311), ('"3.1.1"', 311), ('"311"', 311)],
)
def test_protocol_aliases(tmp_path: Path, yaml_value: str, stored: int) -> None:
    s = load_settings(write(tmp_path, f"mqtt:\n  protocol: {yaml_value}\n"), env=NO_ENV)
    assert s.mqtt.protocol == stored and type(s.mqtt.protocol) is int


@pytest.mark.parametrize("yaml_value", ["3", "5.0", "3.1", "true", '"v5"', "[5]"])
def test_protocol_rejects_other_values(tmp_path: Path, yaml_value: str) -> None:
    problem = only_problem(write(tmp_path, f"mqtt:\n  protocol: {yaml_value}\n"))
    assert (problem.line, problem.key) == (2, "mqtt.protocol")
    assert problem.message.startswith("must be 5 or 3.1.1")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("192.168.1.20:20778", ("192.168.1.20", 20778)),
        ("[::1]:20778", ("::1", 20778)),
        ("[fe80::0001]:1", ("fe80::1", 1)),
        ("dash-pc.local:65535", ("dash-pc.local", 65535)),
        ("localhost:20778", ("localhost", 20778)),
    ],
)
def test_forward_parsing(tmp_path: Path, item: str, expected: tuple[str, int]) -> None:
    s = load_settings(write(tmp_path, f'udp:\n  forward: ["{item}"]\n'), env=NO_ENV)
    assert s.udp.forward == (expected,)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("::1:20778", "IPv6 addresses need brackets"),
        ("[::1]20778", "[address]:port"),
        ("[not-v6]:20778", "is not an IPv6 address"),
        ("dash:0", "port must be an integer from 1 to 65535"),
        ("dash:65536", "port must be an integer from 1 to 65535"),
        ("dash:http", "port must be an integer from 1 to 65535"),
        ("dash", 'expected "host:port"'),
        (":20778", 'expected "host:port"'),
        ("bad_host!:20778", "is not a host name or IP address"),
        ("0.0.0.0:20778", "unspecified address"),
    ],
)
def test_forward_errors(tmp_path: Path, item: str, reason: str) -> None:
    path = write(tmp_path, f'udp:\n  forward:\n    - "127.0.0.1:30000"\n    - "{item}"\n')
    problem = only_problem(path)
    assert (problem.line, problem.key, problem.value) == (4, "udp.forward[1]", item)
    assert problem.message.startswith('must be "host:port"') and reason in problem.message


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("192.168.1.20", ("192.168.1.20", 0)),
        ("192.168.1.20:20778", ("192.168.1.20", 20778)),
        ("::1", ("::1", 0)),
        ("[::1]:5", ("::1", 5)),
        ("localhost", ("127.0.0.1", 0)),  # a name is resolved when the file is loaded
        ("localhost:9", ("127.0.0.1", 9)),
        ("[::ffff:10.0.0.5]:20777", ("10.0.0.5", 20777)),  # IPv4-mapped: compared as the IPv4 sender it is
    ],
)
def test_source_parsing(tmp_path: Path, item: str, expected: tuple[str, int]) -> None:
    assert load_settings(write(tmp_path, f'udp:\n  source: "{item}"\n'), env=NO_ENV).udp.source == expected
    assert default_settings().udp.source is None


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("0.0.0.0", "unspecified address"),
        ("no-such-host.invalid", "cannot resolve 'no-such-host.invalid'"),
        ("bad_host!", "is not a host name or IP address"),
        ("10.0.0.1:0", "port must be an integer from 1 to 65535"),
        ("::1:20778", "IPv6 addresses need brackets"),
    ],
)
def test_source_errors(tmp_path: Path, item: str, reason: str) -> None:
    problem = only_problem(write(tmp_path, f'udp:\n  source: "{item}"\n'))
    assert (problem.line, problem.key, problem.value) == (2, "udp.source", item)
    assert reason in problem.message


def test_forward_to_own_port_is_a_loop(tmp_path: Path) -> None:
    path = write(tmp_path, 'udp:\n  port: 20777\n  forward: ["10.0.0.2:20777", "127.0.0.1:20777"]\n')
    problem = only_problem(path)
    assert (problem.line, problem.key) == (3, "udp.forward[1]")
    assert "loop" in problem.message
    # the same target on another port, or another host on the same port, is fine
    load_settings(write(tmp_path, 'udp:\n  forward: ["127.0.0.1:20778", "10.0.0.2:20777"]\n'), env=NO_ENV)


def test_allow_from_cidr_validation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        udp:
          allow_from:
            - 192.168.1.0/24
            - 10.1.2.3
            - 10.0.0.1/24
            - fe80::/10
            - 300.1.1.1
            - 10.0.0.0/33
        """,
    )
    problems = problems_of(path)
    assert [(p.line, p.key, p.value) for p in problems] == [
        (5, "udp.allow_from[2]", "10.0.0.1/24"),
        (7, "udp.allow_from[4]", "300.1.1.1"),
        (8, "udp.allow_from[5]", "10.0.0.0/33"),
    ]
    assert "did you mean 10.0.0.0/24?" in problems[0].message
    assert problems[1].message == "must be an IP address or CIDR network, e.g. 192.168.1.0/24"


def test_bind_must_be_an_ip_address(tmp_path: Path) -> None:
    path = write(tmp_path, "udp:\n  bind: localhost\nmetrics:\n  bind: 127.0.0.256\n")
    assert [(p.line, p.key) for p in problems_of(path)] == [(2, "udp.bind"), (4, "metrics.bind")]


@pytest.mark.parametrize("topic", ["a/#", "a/+/b", "#", "+", "$SYS", "/rigbridge", "rigbridge/", "a//b", "a b", ""])
def test_topic_rules(tmp_path: Path, topic: str) -> None:
    path = write(tmp_path, f"mqtt:\n  base_topic: '{topic}'\nhomeassistant:\n  discovery_prefix: '{topic}'\n")
    problems = problems_of(path)
    assert [(p.line, p.key, p.value) for p in problems] == [
        (2, "mqtt.base_topic", topic),
        (4, "homeassistant.discovery_prefix", topic),
    ]


def test_nested_topics_are_fine(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "mqtt:\n  base_topic: home/sim-rig_1\n"), env=NO_ENV)
    assert s.mqtt.root_topic == f"home/sim-rig_1/{s.mqtt.rig}"


@pytest.mark.parametrize("rig", ["", "has space", "a" * 33, "dot.ted", "slash/ed"])
def test_rig_rule(tmp_path: Path, rig: str) -> None:
    problem = only_problem(write(tmp_path, f"mqtt:\n  rig: '{rig}'\n"))
    assert (problem.key, problem.line) == ("mqtt.rig", 2)


@given(st.text(max_size=80))
def test_default_rig_name_is_always_valid(hostname: str) -> None:
    assert re.fullmatch(r"[a-z0-9_-]{1,32}", default_rig_name(hostname))


def test_default_rig_name_sanitises_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_rig_name("My Rig.Local") == "my-rig-local"
    assert default_rig_name("x" * 40) == "x" * 32
    assert default_rig_name("...") == "rig"
    monkeypatch.setattr(config.socket, "gethostname", lambda: "SIM_PC-01")
    assert default_settings().mqtt.rig == "sim_pc-01"


def test_client_id_default_is_unique_and_contains_rig(tmp_path: Path) -> None:
    path = write(tmp_path, "mqtt:\n  rig: cockpit\n  base_topic: home/sim\n")
    first = load_settings(path, env=NO_ENV).mqtt.client_id
    second = load_settings(path, env=NO_ENV).mqtt.client_id
    assert first != second
    for client_id in (first, second):
        assert re.fullmatch(r"home-sim-cockpit-[0-9a-f]{6}", client_id)
    assert default_settings().mqtt.client_id != default_settings().mqtt.client_id


def test_client_id_given_and_length(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "mqtt:\n  client_id: fixed\n"), env=NO_ENV).mqtt.client_id == "fixed"
    load_settings(write(tmp_path, f"mqtt:\n  client_id: {'c' * 64}\n"), env=NO_ENV)
    problem = only_problem(write(tmp_path, f"mqtt:\n  client_id: {'c' * 65}\n"))
    assert problem.key == "mqtt.client_id"
    assert len(MqttSettings(base_topic="b" * 100).client_id) <= 64


@pytest.mark.parametrize("value", ["yes", "no", "on", "1", "0", '"true"', "null"])
def test_booleans_must_be_real_booleans(tmp_path: Path, value: str) -> None:
    problem = only_problem(write(tmp_path, f"metrics:\n  enabled: {value}\n"))
    assert (problem.line, problem.key) == (2, "metrics.enabled")
    assert problem.message.startswith("must be true or false")


def test_yes_gets_a_yaml_12_hint(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "homeassistant:\n  enabled: yes\n"))
    assert str(problem).endswith("must be true or false ('yes' is a string in YAML 1.2) (got 'yes')")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("udp:\n  port: 20777.0\n", "udp.port"),
        ("udp:\n  port: '20777'\n", "udp.port"),
        ("udp:\n  port: true\n", "udp.port"),
        ("udp:\n  port: 0\n", "udp.port"),
        ("udp:\n  port:\n", "udp.port"),
        ("udp:\n  receive_timeout_s: .nan\n", "udp.receive_timeout_s"),
        ("udp:\n  receive_timeout_s: .inf\n", "udp.receive_timeout_s"),
        ("udp:\n  receive_timeout_s: '2'\n", "udp.receive_timeout_s"),
        ("publish:\n  rates:\n    fast: 60.5\n", "publish.rates.fast"),
        ("publish:\n  rates:\n    slow: 0\n", "publish.rates.slow"),
        ("publish:\n  include: player/*\n", "publish.include"),
        ("publish:\n  include: ['/player']\n", "publish.include[0]"),
        ("publish:\n  exclude: ['cars/#']\n", "publish.exclude[0]"),
        ("publish:\n  deadbands: [1]\n", "publish.deadbands"),
        ("publish:\n  deadbands: {'player/speed': -0.1}\n", "publish.deadbands.player/speed"),
        ("publish:\n  deadbands: {'player/+': 1}\n", "publish.deadbands.player/+"),
        ("homeassistant:\n  max_rate_hz: 0\n", "homeassistant.max_rate_hz"),
        ("lights:\n  leds: 301\n", "lights.leds"),
        ("lights:\n  limiter_flash_hz: -1\n", "lights.limiter_flash_hz"),
        ("lights:\n  rev_start_pct: 100\n", "lights.rev_start_pct"),
        ("lights:\n  shift_pct: .nan\n", "lights.shift_pct"),
        ("udp:\n  game: gt8\n", "udp.game"),
        ("lights:\n  wled:\n    topics: [wled/#]\n", "lights.wled.topics[0]"),
        ("mqtt:\n  host: 'mqtt://broker'\n", "mqtt.host"),
        ("mqtt:\n  username: 42\n", "mqtt.username"),
    ],
)
def test_value_rules(tmp_path: Path, text: str, key: str) -> None:
    problem = only_problem(write(tmp_path, text))
    assert problem.key == key
    assert problem.line == text.count("\n", 0, text.rindex(key.split(".")[-1].split("[")[0])) + 1


def test_messages_name_the_range(tmp_path: Path) -> None:
    path = write(tmp_path, "udp:\n  rcvbuf_bytes: 100\npublish:\n  rates: {fast: 0}\n  cars: some\n")
    assert [p.message for p in problems_of(path)] == [
        "must be an integer from 65536 to 1073741824",
        "must be a number from 0.001 to 60",
        "must be one of: all, player, none",
    ]


def test_log_level_is_case_insensitive(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "log:\n  level: WARNING\n"), env=NO_ENV).log.level == "warning"


# --------------------------------------------------------------------------------------------------- lights


def test_profile_counts_must_sum_to_leds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        lights:
          leds: 20
          profile:
            - {count: 5, color: "#00ff00"}
            - {count: 5, color: "#ff0000"}
        """,
    )
    problem = only_problem(path)
    assert (problem.line, problem.key) == (3, "lights.profile")
    assert "10" in problem.message and "lights.leds is 20" in problem.message


def test_profile_segments_are_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        lights:
          leds: 3
          profile:
            - {count: 1, color: red}
            - {count: 0, color: "#000000"}
            - {color: "#000000"}
            - {count: 1, color: "#000000", blink: true}
            - "#ffffff"
        """,
    )
    assert [(p.line, p.key) for p in problems_of(path)] == [
        (4, "lights.profile[0].color"),
        (5, "lights.profile[1].count"),
        (6, "lights.profile[2].count"),
        (7, "lights.profile[3].blink"),
        (8, "lights.profile[4]"),
    ]
    assert only_problem(write(tmp_path, "lights:\n  profile: []\n")).key == "lights.profile"


def test_default_profile_follows_leds(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "lights:\n  leds: 16\n"), env=NO_ENV)
    assert [seg.count for seg in s.lights.profile] == [6, 5, 5]
    s = load_settings(write(tmp_path, "lights:\n  leds: 1\n"), env=NO_ENV)
    assert s.lights.profile == (LedSegment(1, "#00ff00"),)


def test_wled_enabled_needs_topics(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "lights:\n  wled:\n    enabled: true\n"))
    assert (problem.line, problem.key) == (2, "lights.wled.topics")


# --------------------------------------------------------------------------------------------------- cross-field


def test_cert_and_key_go_together(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x", encoding="utf-8")
    path = write(
        tmp_path,
        """
        mqtt:
          tls:
            enabled: true
            cert_file: c.pem
        metrics:
          tls:
            key_file: c.pem
        """,
    )
    assert [(p.line, p.key) for p in problems_of(path)] == [(2, "mqtt.tls.key_file"), (6, "metrics.tls.cert_file")]


def test_tls_files_must_exist(tmp_path: Path) -> None:
    (tmp_path / "dir.pem").mkdir()
    path = write(tmp_path, "mqtt:\n  tls:\n    enabled: true\n    ca_file: missing.pem\n    cert_file: dir.pem\n")
    problems = problems_of(path)
    # key_file is reported too: cert_file was given without it
    assert [(p.line, p.key) for p in problems] == [
        (2, "mqtt.tls.key_file"),
        (4, "mqtt.tls.ca_file"),
        (5, "mqtt.tls.cert_file"),
    ]
    by_key = {p.key: p for p in problems}
    assert by_key["mqtt.tls.ca_file"].line == 4
    assert by_key["mqtt.tls.ca_file"].message == f"file not found: {tmp_path / 'missing.pem'}"
    assert by_key["mqtt.tls.cert_file"].line == 5
    assert by_key["mqtt.tls.cert_file"].message.startswith("not a regular file")


def test_tls_insecure_needs_tls(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "mqtt:\n  tls_insecure: true\n"))
    assert (problem.line, problem.key) == (2, "mqtt.tls_insecure")


def test_homeassistant_cars_group_needs_car_topics(tmp_path: Path) -> None:
    path = write(tmp_path, "publish:\n  cars: none\nhomeassistant:\n  groups: [cars]\n")
    problem = only_problem(path)
    assert (problem.line, problem.key) == (4, "homeassistant.groups")


# --------------------------------------------------------------------------------------------------- secrets

SECRET = "hunter2-do-not-print"


def test_env_password_overrides_file_password(tmp_path: Path) -> None:
    path = write(tmp_path, f"mqtt:\n  username: driver\n  password: {SECRET}\n")
    assert load_settings(path, env=NO_ENV).mqtt.password == SECRET
    env = {"RIGBRIDGE_MQTT_PASSWORD": "from-env", "RIGBRIDGE_MQTT_USERNAME": "env-user"}
    s = load_settings(path, env=env)
    assert (s.mqtt.username, s.mqtt.password) == ("env-user", "from-env")


def test_env_password_overrides_password_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(f"{SECRET}\n", encoding="utf-8")
    path = write(tmp_path, "mqtt:\n  username: driver\n  password_file: pw\n")
    assert load_settings(path, env=NO_ENV).mqtt.password == SECRET
    assert load_settings(path, env={"RIGBRIDGE_MQTT_PASSWORD": "from-env"}).mqtt.password == "from-env"
    assert load_settings(path, env={"RIGBRIDGE_MQTT_PASSWORD": ""}).mqtt.password == SECRET


def test_env_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGBRIDGE_MQTT_USERNAME", "env-user")
    monkeypatch.setenv("RIGBRIDGE_MQTT_PASSWORD", "env-pass")
    s = load_settings(write(tmp_path, "mqtt:\n  username: file-user\n"))
    assert (s.mqtt.username, s.mqtt.password) == ("env-user", "env-pass")


@pytest.mark.parametrize(
    ("content", "password"),
    [("pw\n", "pw"), ("pw\n\n", "pw\n"), ("pw", "pw"), ("pw\r\n", "pw"), (" pw \n", " pw ")],
)
def test_password_file_strips_one_newline(tmp_path: Path, content: str, password: str) -> None:
    (tmp_path / "pw").write_bytes(content.encode())
    s = load_settings(write(tmp_path, "mqtt:\n  username: u\n  password_file: pw\n"), env=NO_ENV)
    assert s.mqtt.password == password


def test_password_file_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    problem = only_problem(write(tmp_path, "mqtt:\n  username: u\n  password_file: missing\n"))
    assert (problem.line, problem.key) == (3, "mqtt.password_file")
    assert problem.message.startswith("file not found")
    problem = only_problem(write(tmp_path, "mqtt:\n  username: u\n  password_file: empty\n"))
    assert (problem.line, problem.message) == (3, "password file is empty")
    (tmp_path / "pw").write_text("x", encoding="utf-8")
    problem = only_problem(write(tmp_path, "mqtt:\n  username: u\n  password: y\n  password_file: pw\n"))
    assert (problem.line, problem.key) == (4, "mqtt.password_file")


def test_unreadable_password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("x", encoding="utf-8")
    real_access = os.access
    monkeypatch.setattr(config.os, "access", lambda p, mode: Path(p).name != "pw" and real_access(p, mode))
    problem = only_problem(write(tmp_path, "mqtt:\n  username: u\n  password_file: pw\n"))
    assert (problem.line, problem.key) == (3, "mqtt.password_file")
    assert problem.message == f"file is not readable: {tmp_path / 'pw'}"


def test_password_file_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "pw").write_bytes(b"\xff\xfe\n")
    problem = only_problem(write(tmp_path, "mqtt:\n  username: u\n  password_file: pw\n"))
    assert (problem.line, problem.key) == (3, "mqtt.password_file")
    assert problem.message == "cannot read password file: not UTF-8 text"
    assert problem.value == str(tmp_path / "pw")


def test_password_needs_username(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, f"mqtt:\n  host: b\n  password: {SECRET}\n"))
    assert problem.key == "mqtt.username" and problem.line == 1
    assert SECRET not in str(problem)
    with pytest.raises(ConfigError):
        load_settings(None, env={"RIGBRIDGE_MQTT_PASSWORD": SECRET})


def test_password_never_shown(tmp_path: Path) -> None:
    path = write(tmp_path, f"mqtt:\n  username: driver\n  password: {SECRET}\n")
    s = load_settings(path, env=NO_ENV)
    assert s.mqtt.password == SECRET
    assert SECRET not in repr(s) and SECRET not in repr(s.mqtt) and SECRET not in str(s)
    out = io.StringIO()
    assert check_config_main(str(path), out) == 0
    assert SECRET not in out.getvalue()
    s = load_settings(None, env={"RIGBRIDGE_MQTT_USERNAME": "u", "RIGBRIDGE_MQTT_PASSWORD": SECRET})
    assert SECRET not in repr(s)

    numeric = write(tmp_path, "mqtt:\n  username: driver\n  password: 98765432\n  port: 0\n", "numeric.yaml")
    out = io.StringIO()
    assert check_config_main(str(numeric), out) == 2
    report = out.getvalue()
    assert "98765432" not in report
    assert f"{numeric}:3: mqtt.password: must be a non-empty string (quote it) (got '***')" in report
    assert f"{numeric}:4: mqtt.port:" in report

    duplicated = write(tmp_path, f"mqtt:\n  password: {SECRET}\n  password: {SECRET}x\n", "dup.yaml")
    with pytest.raises(ConfigError) as info:
        load_settings(duplicated, env=NO_ENV)
    assert SECRET not in str(info.value)


def test_password_in_broken_yaml_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(f"mqtt:\n  password: {SECRET}: oops\n", encoding="utf-8")
    problem = only_problem(path)
    assert problem.line == 2 and SECRET not in str(problem)


def test_the_game_is_auto_unless_named(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "udp: {}\n"), env=NO_ENV).udp.game == "auto"
    assert load_settings(write(tmp_path, "udp:\n  game: f1\n"), env=NO_ENV).udp.game == "f1"
    problem = only_problem(write(tmp_path, "udp:\n  game: gt8\n"))
    assert problem.message.startswith("must be one of: auto, f1")


def test_rev_lights_start_below_the_shift_point(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "lights:\n  rev_start_pct: 90\n  shift_pct: 80\n"))
    assert (problem.line, problem.key) == (3, "lights.shift_pct")
    assert problem.message == "must be above lights.rev_start_pct (90)"
    settings = load_settings(write(tmp_path, "lights:\n  rev_start_pct: 50\n  shift_pct: 90\n"), env=NO_ENV)
    assert (settings.lights.rev_start_pct, settings.lights.shift_pct) == (50, 90)
