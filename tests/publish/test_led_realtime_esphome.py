"""examples/esphome/rev-lights-udp.yaml: a stock ESPHome `wled` effect that receives what `lights.realtime` sends.

The static checks read the YAML; the slow one runs `esphome config` with the ESPHome of `.venv/esphome`, as the
other examples' tests do (the same fixture: it installs the pinned version when missing, and skips saying why
when that cannot be done here).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bridge.config import load_settings
from tests.examples.test_esphome import EXAMPLES, esphome, esphome_config, load_config, tagged  # noqa: F401

NAME = "rev-lights-udp.yaml"


def test_no_mqtt_in_the_light_path_and_a_wled_effect_on_the_port_rigbridge_sends_to() -> None:
    config = load_config(NAME)
    assert "mqtt" not in config and "api" not in config
    (strip,) = config["light"]
    assert (strip["platform"], strip["chipset"], strip["rgb_order"], strip["pin"]) == (
        "esp32_rmt_led_strip", "WS2812", "GRB", "GPIO16")
    (effect,) = strip["effects"]
    assert effect["wled"]["port"] == "${udp_port}" and config["substitutions"]["udp_port"] == "21324"
    assert effect["wled"]["blank_on_start"] is True
    assert config["esp32"]["framework"]["type"] == "arduino"  # the wled effect is Arduino-only
    secrets = {str(t) for t in tagged(config) if t.tag.value == "!secret"}
    assert secrets == {"wifi_ssid", "wifi_password", "ota_password"}


def test_the_rigbridge_config_in_its_comment_is_valid(tmp_path: Path) -> None:
    text = (EXAMPLES / NAME).read_text(encoding="utf-8")
    block = re.search(r"^#   lights:\n(?:#     .*\n)+", text, re.M)
    assert block, "the example shows rigbridge's lights.realtime config"
    config = tmp_path / "rigbridge.yaml"
    config.write_text("\n".join(line[4:] for line in block.group(0).splitlines()) + "\n")
    (device,) = load_settings(config, env={}).lights.realtime
    assert device.target[1] == 21324 and device.protocol in ("dnrgb", "drgb")


@pytest.mark.slow
def test_esphome_config_accepts_it(esphome: Path, tmp_path: Path) -> None:  # noqa: F811
    shutil.copy(EXAMPLES / NAME, tmp_path / NAME)
    shutil.copy(EXAMPLES / "secrets.example.yaml", tmp_path / "secrets.yaml")
    validated = esphome_config(esphome, tmp_path, NAME)
    (strip,) = validated["light"]
    assert strip["pin"]["number"] == 16 and strip["num_leds"] == 15
    (effect,) = strip["effects"]
    assert effect["wled"]["port"] == 21324
