"""Hostile and careless configs: `check-config` refuses each one exactly as `run` does, as one line, exit 2.

One table of bad configs goes through both commands as real subprocesses. `run` never gets as far as binding a
socket or connecting: the config is refused first, by the same loader check-config uses. Further tests walk the
whole schema (no key takes a huge number, NaN or infinity) and check the limits against the code that relies on
them (the topic bound against Home Assistant discovery, the capture check against a real capture).
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge import config
from bridge.config import ConfigError, load_settings
from bridge.ingest.capture import FILE_HEADER, MAGIC, CaptureWriter
from bridge.ingest.targets import MAX_FORWARD_TARGETS, local_addresses
from bridge.publish.topics import MAX_TOPIC

DATA = Path(__file__).resolve().parent / "data" / "config"
NO_ENV: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    """One bad config. `body` is the text under `section` (indented as it would be there); expected lines count
    from 1 at the first line of `body`. `group`: cases of a group share one file (sections merged), to keep the
    number of processes small; a group never mixes cases that would hide each other's problem."""

    name: str
    group: str
    section: str | None  # None: `body` is the whole file (or `path` names a special file)
    body: str  # {tmp}, {data}, {garbage}, {readonly}, {capture9}, {foreign}, {fifo} are filled in
    expect: tuple[tuple[int, str, str, str | None], ...]  # (line, key, message part, value as shown or None)
    path: str | None = None


def one(line: int, key: str, message: str, value: str | None = None) -> tuple[tuple[int, str, str, str | None]]:
    return ((line, key, message, value),)


_LONG_USERNAME = "u" * 70_000
_FORWARDS = "".join(f'    - "10.0.0.2:{port}"\n' for port in range(1, MAX_FORWARD_TARGETS + 2))

CASES = [
    # numbers out of any sensible range (NaN and infinities included)
    Case("wear_limit_over_100", "a", "tyres", "  wear_limit_pct: 150\n",
         one(1, "tyres.wear_limit_pct", "must be a number from 1 to 100", "150")),
    Case("pit_loss_negative", "a", "pit", "  loss_s: {monza: -3}\n",
         one(1, "pit.loss_s.monza", "must be a number from 0 to 300", "-3")),
    Case("gt7_console_port_0", "a", "games", "  gt7:\n    console_port: 0\n",
         one(2, "games.gt7.console_port", "must be an integer from 1 to 65535", "0")),
    Case("rcvbuf_2GiB", "a", "udp", "  rcvbuf_bytes: 2147483648\n",
         one(1, "udp.rcvbuf_bytes", "must be an integer from 65536 to 1073741824", "2147483648")),
    Case("expiry_over_mqtt_max", "a", "publish", "  expiry_s: 99999999999\n",
         one(1, "publish.expiry_s", "must be an integer from 0 to 4294967295", "99999999999")),
    Case("ha_rate_1e6", "a", "homeassistant", "  max_rate_hz: 1e6\n",
         one(1, "homeassistant.max_rate_hz", "must be a number from 0.01 to 10", "1000000.0")),
    Case("reconnect_min_tiny", "a", "mqtt", "  reconnect_min_s: 1e-300\n",
         one(1, "mqtt.reconnect_min_s", "must be a number from 0.1 to 3600", "1e-300")),
    Case("reconnect_max_huge", "a", "mqtt", "  reconnect_max_s: 1e300\n",
         one(1, "mqtt.reconnect_max_s", "must be a number from 0.1 to 3600", "1e+300")),
    Case("limiter_flash_huge", "a", "lights", "  limiter_flash_hz: 1e308\n",
         one(1, "lights.limiter_flash_hz", "must be a number from 0.1 to 30", "1e+308")),
    Case("receive_timeout_nan", "a", "udp", "  receive_timeout_s: .nan\n",
         one(1, "udp.receive_timeout_s", "must be a number from 0.5 to 3600", "nan")),
    Case("rate_infinite", "a", "publish", "  rates: {{fast: .inf}}\n",
         one(1, "publish.rates.fast", "must be a number from 0.001 to 60", "inf")),
    Case("deadband_huge", "a", "publish", "  deadbands:\n    player/speed: 1e300\n",
         one(2, "publish.deadbands.player/speed", "must be a number from 0 to 1e+09", "1e+300")),
    Case("integer_5000_digits", "b", "udp", "  port: " + "9" * 5000 + "\n",
         one(1, "udp.port", "unreadable value: Exceeds the limit (4300 digits)", None)),
    Case("date_month_13", "b", "lights", "  leds: 2001-13-45\n",
         one(1, "lights.leds", "unreadable value: month must be in 1..12", "'2001-13-45'")),
    # files the bridge would load with ssl, parsed now
    Case("ca_file_not_pem", "a", "mqtt", "  tls:\n    enabled: true\n    ca_file: {garbage}\n",
         one(3, "mqtt.tls.ca_file", "not a usable PEM CA certificate file: [X509: NO_CERTIFICATE_OR_CRL_FOUND]",
             "'{garbage}'")),
    Case("metrics_cert_garbage", "a", "metrics", "  tls:\n    cert_file: {garbage}\n    key_file: {garbage}\n",
         one(2, "metrics.tls.cert_file", "not a usable PEM certificate file", "'{garbage}'")),
    Case("metrics_key_garbage", "b", "metrics", "  tls:\n    cert_file: {data}/client.pem\n    key_file: {garbage}\n",
         one(3, "metrics.tls.key_file", "not a usable PEM private key file", "'{garbage}'")),
    Case("client_key_of_another_cert", "b", "mqtt",
         "  tls:\n    enabled: true\n    cert_file: {data}/client.pem\n    key_file: {data}/other.key\n",
         one(4, "mqtt.tls.key_file", "does not belong to the certificate in mqtt.tls.cert_file",
             "'{data}/other.key'")),
    Case("client_key_encrypted", "c", "mqtt",
         "  tls:\n    enabled: true\n    cert_file: {data}/client.pem\n    key_file: {data}/encrypted.key\n",
         one(4, "mqtt.tls.key_file", "the key is protected by a passphrase", "'{data}/encrypted.key'")),
    Case("file_path_with_nul", "d", "mqtt", '  tls:\n    ca_file: "ca\\0.pem"\n',
         one(2, "mqtt.tls.ca_file", "must be a file path", "'ca\\x00.pem'")),
    # the capture file recording appends to
    Case("record_is_directory", "a", "udp", "  record: {tmp}\n",
         one(1, "udp.record", "is a directory, not a capture file: {tmp}", "'{tmp}'")),
    Case("record_directory_missing", "b", "udp", "  record: {tmp}/missing/race.rbcap\n",
         one(1, "udp.record", "its directory does not exist", "'{tmp}/missing/race.rbcap'")),
    Case("record_directory_read_only", "c", "udp", "  record: {readonly}/race.rbcap\n",
         one(1, "udp.record", "its directory is not writable", "'{readonly}/race.rbcap'")),
    Case("record_not_a_capture", "d", "udp", "  record: {garbage}\n",
         one(1, "udp.record", "not a rigbridge capture file (bad magic)", "'{garbage}'")),
    Case("record_capture_version_9", "e", "udp", "  record: {capture9}\n",
         one(1, "udp.record", "capture version 9 is not supported", "'{capture9}'")),
    Case("record_fifo", "f", "udp", "  record: {fifo}\n",  # opening a FIFO with no reader would block the start
         one(1, "udp.record", "is not a regular file", "'{fifo}'")),
    # strings that go on the wire: MQTT's rules and the topic bound
    Case("client_id_nul", "a", "mqtt", '  client_id: "rig\\0one"\n',
         one(1, "mqtt.client_id", "must not contain control characters such as '\\x00'", "'rig\\x00one'")),
    Case("username_control_char", "a", "mqtt", '  username: "driver\\a"\n',
         one(1, "mqtt.username", "must not contain control characters such as '\\x07'", "'driver\\x07'")),
    Case("username_over_65535_bytes", "b", "mqtt", f"  username: {_LONG_USERNAME}\n",
         one(1, "mqtt.username", "is 70000 bytes long; MQTT allows at most 65535 bytes", None)),
    Case("base_topic_nul", "b", "mqtt", '  base_topic: "rig\\0bridge"\n',
         one(1, "mqtt.base_topic", "must be topic levels", "'rig\\x00bridge'")),
    Case("rig_nul", "c", "mqtt", '  rig: "rig\\0"\n', one(1, "mqtt.rig", "must be 1 to 32 characters", "'rig\\x00'")),
    Case("base_topic_300_chars", "a", "mqtt", "  rig: rig1\n  base_topic: " + "b" * 300 + "\n",
         one(2, "mqtt.base_topic", f"over the {MAX_TOPIC}-byte limit", None)),
    Case("discovery_prefix_250_chars", "b", "homeassistant", "  discovery_prefix: " + "h" * 250 + "\n",
         one(1, "homeassistant.discovery_prefix", f"over the {MAX_TOPIC}-byte limit", None)),
    Case("wled_topic_too_long", "a", "lights", "  wled:\n    topics: [" + "w" * MAX_TOPIC + "]\n",
         one(2, "lights.wled.topics[0]", f"over the {MAX_TOPIC}-byte limit", None)),
    # addresses: what this machine can bind, and forward targets that come back to the bridge
    Case("udp_bind_not_local", "a", "udp", "  bind: {foreign}\n",
         one(1, "udp.bind", "is not an address of this machine", "'{foreign}'")),
    Case("metrics_bind_not_local", "c", "metrics", "  bind: {foreign}\n",
         one(1, "metrics.bind", "is not an address of this machine", "'{foreign}'")),
    Case("forward_loops", "c", "udp",
         '  port: 20777\n  forward:\n    - "10.0.0.2:20777"\n    - "127.1:20777"\n    - "2130706433:20777"\n',
         ((4, "udp.forward[1]", "forwards to the bridge's own port (127.1 resolves to 127.0.0.1)", "'127.1:20777'"),
          (5, "udp.forward[2]", "forwards to the bridge's own port (2130706433 resolves to 127.0.0.1)",
           "'2130706433:20777'"))),
    Case("forward_too_many", "d", "udp", "  forward:\n" + _FORWARDS,
         one(1, "udp.forward", f"at most {MAX_FORWARD_TARGETS} forward targets", f"{MAX_FORWARD_TARGETS + 1} targets")),
    Case("source_unresolvable", "a", "udp", "  source: no-such-host.invalid\n",
         one(1, "udp.source", "cannot resolve 'no-such-host.invalid'", "'no-such-host.invalid'")),
    # the file itself
    Case("nested_500_levels", "nested", None, "udp: " + "[" * 500 + "]" * 500 + "\n",
         one(1, "<file>", f"nested deeper than {config.MAX_DEPTH} levels", None)),
    Case("file_over_1MiB", "large", None, "# " + "x" * config.MAX_FILE_BYTES + "\n",
         one(1, "<file>", "file too large", None)),
    Case("dev_zero", "dev_zero", None, "", one(1, "<file>", "file too large", None), path="/dev/zero"),
    Case("directory", "directory", None, "", one(1, "<file>", "cannot read file: Is a directory", None),
         path="{tmp}"),
]


def _fill(text: str, places: dict[str, str]) -> str:
    for name, value in places.items():
        text = text.replace("{" + name + "}", value)
    return text.replace("{{", "{").replace("}}", "}")


def _foreign_address() -> str:
    """A documentation address (RFC 5737) that is not one of this machine's."""
    for address in ("203.0.113.77", "198.51.100.77", "192.0.2.77"):
        if ipaddress.ip_address(address) not in local_addresses():
            return address
    raise AssertionError("every documentation address is local here")


def _read_only_directory(tmp: Path) -> Path | None:
    """A directory this process cannot create files in: a mode 0555 one, or (as root) a read-only mount."""
    directory = tmp / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    for candidate in (directory, Path("/proc/sys")):
        if candidate.is_dir() and not os.access(candidate, os.W_OK):
            return candidate
    return None


def _compose(cases: list[Case], places: dict[str, str]) -> tuple[str, dict[str, int]]:
    """One file of the group's cases, each section once; returns the text and each case's first body line."""
    if cases[0].section is None:
        return _fill(cases[0].body, places), {cases[0].name: 1}
    lines: list[str] = []
    first: dict[str, int] = {}
    for section in dict.fromkeys(case.section for case in cases):
        lines.append(f"{section}:")
        for case in (c for c in cases if c.section == section):
            first[case.name] = len(lines) + 1
            lines.extend(_fill(case.body, places).rstrip("\n").split("\n"))
    return "\n".join(lines) + "\n", first


@dataclass(frozen=True)
class Outcome:
    path: str
    first_line: int
    last_line: int
    places: dict[str, str]
    check: subprocess.CompletedProcess[str]
    run: subprocess.CompletedProcess[str]


def _rigbridge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        capture_output=True, text=True, timeout=30, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every group's file through `check-config FILE` and `run -c FILE`, a few processes at a time."""
    tmp = tmp_path_factory.mktemp("hostile")
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a certificate, not a key, not a capture\n")
    capture9 = tmp / "version9.rbcap"
    capture9.write_bytes(FILE_HEADER.pack(MAGIC, 9, FILE_HEADER.size, 0, 0))
    readonly = _read_only_directory(tmp)
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    places = {"tmp": str(tmp), "data": str(DATA), "garbage": str(garbage), "capture9": str(capture9),
              "readonly": str(readonly), "foreign": _foreign_address(), "fifo": str(fifo)}
    cases = [c for c in CASES if readonly is not None or c.name != "record_directory_read_only"]
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    files: dict[str, tuple[str, dict[str, int]]] = {}
    for group, members in groups.items():
        text, first = _compose(members, places)
        path = tmp / f"{group}.yaml"
        path.write_text(text, encoding="utf-8")
        special = members[0].path
        files[group] = (_fill(special, places) if special else str(path), first)

    def both(path: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        check = _rigbridge("check-config", path, cwd=tmp)
        # A config check-config accepts would start a real bridge: that case fails on check-config alone.
        run = _rigbridge("run", "-c", path, cwd=tmp) if check.returncode == 2 else check
        return check, run

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(files, pool.map(both, (path for path, _ in files.values())), strict=True))
    outcomes: dict[str, Outcome] = {}
    for group, members in groups.items():
        path, first = files[group]
        check, run = results[group]
        for case in members:
            start = first[case.name]
            end = start + max(_fill(case.body, places).count("\n"), 1) - 1
            outcomes[case.name] = Outcome(path, start, end, places, check, run)
    return outcomes


def _problem_lines(output: str, path: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{path}:")]


def _line_number(problem: str, path: str) -> int:
    return int(problem[len(path) + 1 :].split(":", 1)[0])


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_check_config_and_run_refuse_the_same_way(case: Case, outcomes: dict[str, Outcome]) -> None:
    if case.name not in outcomes:
        pytest.skip("no directory here that this process cannot write to")
    outcome = outcomes[case.name]
    for command, result in (("check-config", outcome.check), ("run", outcome.run)):
        assert result.returncode == 2, f"{command}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr, f"{command}:\n{result.stderr}"
    everything = _problem_lines(outcome.check.stdout, outcome.path)
    assert _problem_lines(outcome.run.stdout, outcome.path) == everything  # the same loader, the same words
    mine = [p for p in everything if outcome.first_line <= _line_number(p, outcome.path) <= outcome.last_line]
    assert len(mine) == len(case.expect), "\n".join(everything)
    for problem, (line, key, message, value) in zip(mine, case.expect, strict=True):
        assert problem.startswith(f"{outcome.path}:{outcome.first_line + line - 1}: {key}: "), problem
        assert _fill(message, outcome.places) in problem, problem
        if value is not None:
            assert problem.endswith(f"(got {_fill(value, outcome.places)})"), problem


def test_every_problem_in_the_table_files_belongs_to_a_case(outcomes: dict[str, Outcome]) -> None:
    """Cases sharing a file do not add problems to one another (no case is hidden behind another's)."""
    by_file: dict[str, list[Outcome]] = {}
    for outcome in outcomes.values():
        by_file.setdefault(outcome.path, []).append(outcome)
    for path, members in by_file.items():
        for problem in _problem_lines(members[0].check.stdout, path):
            line = _line_number(problem, path)
            assert any(m.first_line <= line <= m.last_line for m in members), problem


# --------------------------------------------------------------------------------------------------- the schema


def _leaf_keys(section: config._Section, path: str = "") -> Iterator[str]:
    for name, convert in section.keys.items():
        key = f"{path}.{name}" if path else name
        if isinstance(convert, config._Section):
            yield from _leaf_keys(convert, key)
        else:
            yield key


def _nested_yaml(key: str, value: str) -> str:
    lines = []
    for depth, part in enumerate(key.split(".")[:-1]):
        lines.append("  " * depth + f"{part}:")
    lines.append("  " * (key.count(".")) + f"{key.rsplit('.', 1)[-1]}: {value}")
    return "\n".join(lines) + "\n"


LEAF_KEYS = list(_leaf_keys(config._SCHEMA))


@pytest.mark.parametrize("value", ["1e308", "-1e308", ".nan", ".inf", "-.inf", str(2**64), str(-(2**64))])
def test_no_key_takes_a_huge_or_non_finite_number(tmp_path: Path, value: str) -> None:
    """Every key of the schema: the number is refused with a problem on that key (a range, or the wrong type)."""
    assert len(LEAF_KEYS) > 40
    for key in LEAF_KEYS:
        path = tmp_path / "rigbridge.yaml"
        path.write_text(_nested_yaml(key, value), encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_settings(path, env=NO_ENV)
        assert key in [problem.key for problem in info.value.problems], (key, str(info.value))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("lights:\n  profile:\n    - {count: 1e308, color: '#ff0000'}\n", "lights.profile[0].count"),
        ("publish:\n  deadbands:\n    player/rpm: .nan\n", "publish.deadbands.player/rpm"),
    ],
)
def test_numbers_inside_lists_and_maps_are_bounded_too(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "rigbridge.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=NO_ENV)
    assert [problem.key for problem in info.value.problems] == [key]


def test_the_edges_of_every_range_load() -> None:
    """The edges a real user might pick load fine: nothing that was sensible became invalid."""
    edges = {
        "udp.rcvbuf_bytes": "1073741824", "udp.receive_timeout_s": "0.5", "publish.expiry_s": "4294967295",
        "mqtt.reconnect_min_s": "0.1", "mqtt.reconnect_max_s": "3600", "homeassistant.max_rate_hz": "10",
        "lights.limiter_flash_hz": "30", "publish.rates.slow": "0.001",
    }
    for key, value in edges.items():
        settings = config._load(_nested_yaml(key, value), "<edge>", Path.cwd(), NO_ENV)
        section, _, name = key.rpartition(".")
        obj: object = settings
        for part in section.split("."):
            obj = getattr(obj, part)
        assert getattr(obj, name) == float(value), key


# --------------------------------------------------------------------------------------------------- against the code


def test_base_topic_at_the_limit_builds_home_assistant_discovery(tmp_path: Path) -> None:
    """The longest base_topic check-config accepts is one Home Assistant discovery can use; one more is refused."""
    from bridge.app import Bridge

    text = "mqtt:\n  rig: " + "r" * 32 + "\n  base_topic: {base}\nhomeassistant:\n  groups: [{groups}]\n"
    groups = ", ".join(config.HA_GROUPS)
    path = tmp_path / "rigbridge.yaml"
    path.write_text(text.format(base="b" * 300, groups=groups), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=NO_ENV)
    fits = int(re.search(r"at most (\d+) characters fit", str(info.value)).group(1))  # type: ignore[union-attr]
    path.write_text(text.format(base="b" * (fits + 1), groups=groups), encoding="utf-8")
    with pytest.raises(ConfigError):
        load_settings(path, env=NO_ENV)
    path.write_text(text.format(base="b" * fits, groups=groups), encoding="utf-8")
    settings = load_settings(path, env=NO_ENV)
    bridge = Bridge(settings)  # builds every discovery and state topic, each through topics.checked()
    ha = bridge.services["homeassistant"]
    # cars appear with the game's data; build the last car slot's entities as that would
    entities = ha.entities + [ha._entity(f, meta, 23) for f, meta in ha._car_fields]
    longest = max(len(topic) for e in entities for topic in (e.state_topic, e.config_topic))
    # the rule counts every field as Home Assistant's rate-limited copy under <root>/ha/: at most 3 bytes spare
    assert MAX_TOPIC - 3 <= longest <= MAX_TOPIC


def test_record_accepts_a_real_capture_and_a_new_file(tmp_path: Path) -> None:
    capture = tmp_path / "race.rbcap"
    writer = CaptureWriter(capture)
    writer.write(b"\x01\x02", 0)
    writer.close()
    (tmp_path / "empty.rbcap").touch()
    for target in (capture, tmp_path / "new.rbcap", tmp_path / "empty.rbcap"):
        path = tmp_path / "rigbridge.yaml"
        path.write_text(f"udp:\n  record: {target.name}\n", encoding="utf-8")  # relative to the config file
        assert load_settings(path, env=NO_ENV).udp.record == str(target)
    path.write_text("udp:\n  record: /dev/null\n", encoding="utf-8")  # a device takes the stream, is never read
    assert load_settings(path, env=NO_ENV).udp.record == "/dev/null"


def test_username_from_the_environment_follows_the_same_rules(tmp_path: Path) -> None:
    path = tmp_path / "rigbridge.yaml"
    path.write_text("mqtt:\n  username: driver\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={config.ENV_USERNAME: "dri\0ver"})
    (problem,) = info.value.problems
    assert (problem.line, problem.key) == (2, "mqtt.username")
    assert "control characters" in problem.message and config.ENV_USERNAME in problem.message


def test_a_flood_of_problems_is_cut_to_a_screenful(tmp_path: Path) -> None:
    path = tmp_path / "rigbridge.yaml"
    path.write_text("udp:\n  allow_from: [" + ", ".join(["nope"] * 300) + "]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=NO_ENV)
    problems = info.value.problems
    assert len(problems) == config.MAX_PROBLEMS + 1
    assert str(problems[-1]) == f"{path}:2: <file>: {300 - config.MAX_PROBLEMS} more problems not shown"


def test_password_file_is_read_only_up_to_mqtts_limit(tmp_path: Path) -> None:
    secret = tmp_path / "password.txt"
    with secret.open("wb") as f:
        f.truncate(1 << 30)  # a sparse 1 GiB file: the loader must stop reading at MQTT's 65,535 bytes
    path = tmp_path / "rigbridge.yaml"
    path.write_text("mqtt:\n  username: driver\n  password_file: password.txt\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=NO_ENV)
    (problem,) = info.value.problems
    assert (problem.line, problem.key) == (3, "mqtt.password_file")
    assert "MQTT allows at most 65535 bytes" in problem.message
