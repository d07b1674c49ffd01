"""The ESPHome shift-light examples in examples/esphome/.

Static checks read the YAML directly: which rigbridge topics each config subscribes to, the strip wiring, the
secrets it needs. The slow checks run `esphome config` on copies of the configs. ESPHome is large and pins its own
dependencies, so it lives in its own virtualenv, `.venv/esphome`, made by `make examples-venv`; when it is missing
(a clean checkout, CI) the first slow test runs that target itself (about two minutes), and skips with the reason
when the install cannot be done on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import TaggedScalar

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "esphome"
ESPHOME_VENV = ROOT / ".venv" / "esphome"
ESPHOME = ESPHOME_VENV / "bin" / "esphome"
INSTALL_TIMEOUT_S = 600
CONFIG_TIMEOUT_S = 180

BASE = "rigbridge"  # rigbridge's default mqtt.base_topic
RIG = "rig1"  # the example rig id the configs ship with

# Everything rigbridge publishes for shift lights, relative to <base>/<rig>/.
RIGBRIDGE_TOPICS = {
    "lights/rev_bits",
    "lights/rev_pct",
    "lights/shift",
    "lights/flag",
    "lights/pit_limiter",
    "lights/drs",
    "lights/leds",
    "status",
}
FLAGS = {"none", "green", "blue", "yellow", "red", "safety_car", "virtual_safety_car"}

# config file -> the topics (relative to <base>/<rig>/) it subscribes to.
CONFIGS = {
    "rev-lights-bits.yaml": {"lights/rev_bits", "lights/flag", "status"},
    "rev-lights-pct.yaml": {"lights/rev_pct", "lights/shift", "status"},
}
REQUIRED_SECRETS = {"wifi_ssid", "wifi_password", "mqtt_broker", "mqtt_username", "mqtt_password"}


def load_yaml(text: str) -> Any:
    """Round-trip loader: keeps ESPHome's `!secret`/`!lambda` tags as TaggedScalar instead of rejecting them."""
    return YAML(typ="rt").load(text)


def load_config(name: str) -> Any:
    return load_yaml((EXAMPLES / name).read_text(encoding="utf-8"))


def subscribed(config: Any) -> list[str]:
    """The topics of the config's `mqtt.on_message` handlers, as written."""
    return [str(handler["topic"]) for handler in config["mqtt"]["on_message"]]


def handler(config: Any, suffix: str) -> Any:
    (found,) = [h for h in config["mqtt"]["on_message"] if str(h["topic"]).endswith("/" + suffix)]
    return found


def tagged(node: Any) -> list[TaggedScalar]:
    """Every tagged scalar (`!secret x`, `!lambda ...`) anywhere below node."""
    if isinstance(node, TaggedScalar):
        return [node]
    if isinstance(node, dict):
        return [t for value in node.values() for t in tagged(value)]
    if isinstance(node, list):
        return [t for value in node for t in tagged(value)]
    return []


def lambdas(node: Any) -> str:
    """The C++ of every lambda below node (`lambda:` keys and `!lambda` values), joined."""
    parts: list[str] = [str(t) for t in tagged(node) if t.tag.value == "!lambda"]
    if isinstance(node, dict):
        parts += [str(v) for k, v in node.items() if k == "lambda" and not isinstance(v, TaggedScalar)]
        parts += [lambdas(v) for k, v in node.items() if k != "lambda"]
    elif isinstance(node, list):
        parts += [lambdas(v) for v in node]
    return "\n".join(p for p in parts if p)


# ---------------------------------------------------------------- static checks


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_subscribes_to_exactly_its_rigbridge_topics(name: str) -> None:
    config = load_config(name)
    topics = subscribed(config)
    assert len(topics) == len(set(topics)), f"duplicate subscriptions: {topics}"
    assert set(topics) == {f"${{base}}/${{rig}}/{suffix}" for suffix in CONFIGS[name]}
    assert CONFIGS[name] <= RIGBRIDGE_TOPICS
    assert config["substitutions"]["base"] == BASE
    assert config["substitutions"]["rig"] == RIG
    for h in config["mqtt"]["on_message"]:
        assert h.get("qos", 0) == 0, "rigbridge publishes the lights at QoS 0"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_drives_a_ws2812_strip_on_gpio16(name: str) -> None:
    (strip,) = load_config(name)["light"]
    assert strip["platform"] == "esp32_rmt_led_strip"
    assert strip["chipset"] == "WS2812"
    assert strip["rgb_order"] == "GRB"
    assert strip["pin"] == "GPIO16"
    (effect,) = strip["effects"]
    assert "addressable_lambda" in effect
    assert load_config(name)["esp32"]["board"] == "esp32dev"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_payloads_match_what_rigbridge_publishes(name: str) -> None:
    config = load_config(name)
    status = lambdas(handler(config, "status"))
    assert 'x == "online"' in status
    if "lights/shift" in CONFIGS[name]:
        assert 'x == "true"' in lambdas(handler(config, "lights/shift"))
    for suffix in ("lights/rev_bits", "lights/rev_pct"):
        if suffix in CONFIGS[name]:
            assert "parse_number<int>(x)" in lambdas(handler(config, suffix))


def test_bits_config_knows_every_flag_and_only_those() -> None:
    config = load_config("rev-lights-bits.yaml")
    code = lambdas(config["light"])
    compared = set(re.findall(r'\bf [!=]= "([^"]*)"', code))
    assert compared == FLAGS
    (strip,) = config["light"]
    assert strip["num_leds"] == 15, "rev_bits describes exactly 15 LEDs"


def test_secrets_example_covers_every_secret_used() -> None:
    example = load_yaml((EXAMPLES / "secrets.example.yaml").read_text(encoding="utf-8"))
    assert set(example) >= REQUIRED_SECRETS
    for name in CONFIGS:
        used = {str(t) for t in tagged(load_config(name)) if t.tag.value == "!secret"}
        assert used <= set(example), f"{name} uses secrets missing from secrets.example.yaml"
        assert used >= REQUIRED_SECRETS


# ---------------------------------------------------------------- esphome config


def pinned_version() -> str:
    """The esphome version `make examples-venv` installs."""
    match = re.search(r"esphome==([0-9][0-9A-Za-z.]*)", (ROOT / "Makefile").read_text(encoding="utf-8"))
    assert match, "Makefile: examples-venv must pin esphome==<version>"
    return match.group(1)


def installed_version() -> str | None:
    if not os.access(ESPHOME, os.X_OK):
        return None
    try:
        done = subprocess.run([str(ESPHOME), "version"], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Version:\s*(\S+)", done.stdout)
    return match.group(1) if done.returncode == 0 and match else None


def run_make_examples_venv() -> tuple[int | None, str]:
    """`make examples-venv`; (exit code or None on timeout, last lines of its output). Kills the whole group."""
    with subprocess.Popen(
        ["make", "--no-print-directory", "examples-venv"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            return None, output[-2000:]
    return proc.returncode, output[-2000:]


@pytest.fixture(scope="session")
def esphome() -> Path:
    want = pinned_version()
    if installed_version() == want:
        return ESPHOME
    if shutil.which("make") is None:
        pytest.skip("ESPHome not installed in .venv/esphome and `make` is not available to run `make examples-venv`")
    code, tail = run_make_examples_venv()
    if code is None:
        pytest.skip(f"`make examples-venv` (esphome=={want}) did not finish in {INSTALL_TIMEOUT_S} s:\n{tail}")
    if code != 0:
        pytest.skip(f"`make examples-venv` could not install esphome=={want} here (exit {code}):\n{tail}")
    got = installed_version()
    assert got == want, f"`make examples-venv` succeeded but .venv/esphome has esphome {got}, not {want}"
    return ESPHOME


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Copies of the configs beside a secrets.yaml made from the example, as a user would set them up."""
    for name in CONFIGS:
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copy(EXAMPLES / "secrets.example.yaml", tmp_path / "secrets.yaml")
    return tmp_path


def esphome_config(esphome: Path, workdir: Path, name: str, *options: str) -> Any:
    """`esphome [options] config <name>` in workdir; asserts success and returns the validated config."""
    done = subprocess.run(
        [str(esphome), *options, "config", name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=CONFIG_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"esphome config {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Configuration is valid!" in done.stderr
    return load_yaml(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_esphome_config_accepts_it(esphome: Path, workdir: Path, name: str) -> None:
    validated = esphome_config(esphome, workdir, name)
    assert set(subscribed(validated)) == {f"{BASE}/{RIG}/{suffix}" for suffix in CONFIGS[name]}
    (strip,) = validated["light"]
    assert strip["pin"]["number"] == 16
    assert strip["chipset"] == "WS2812"
    assert strip["rgb_order"] == "GRB"
    assert strip["num_leds"] == 15
    assert validated["esp32"]["framework"]["type"] == "esp-idf"


@pytest.mark.slow
def test_esphome_substitutions_set_base_and_rig(esphome: Path, workdir: Path) -> None:
    """`esphome -s rig ... -s base ...` retargets every subscription, as examples/README.md tells."""
    name = "rev-lights-bits.yaml"
    validated = esphome_config(esphome, workdir, name, "-s", "rig", "sim-rig-2", "-s", "base", "home/f1")
    assert set(subscribed(validated)) == {f"home/f1/sim-rig-2/{suffix}" for suffix in CONFIGS[name]}
