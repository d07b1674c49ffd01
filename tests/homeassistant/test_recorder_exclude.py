"""`rigbridge ha-recorder-exclude`: the recorder exclusions for this rig's fast-changing entities, as YAML."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from bridge.config import default_settings
from bridge.publish.homeassistant import HomeAssistant
from bridge.publish.outbox import Outbox
from bridge.publish.policy import TopicPolicy


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", "ha-recorder-exclude", *args], capture_output=True,
                          text=True, timeout=60)


def test_recorder_exclude_lists_every_rate_limited_entity_of_the_rig(tmp_path: Path) -> None:
    config = tmp_path / "rigbridge.yaml"
    config.write_text("mqtt:\n  rig: rig7\nhomeassistant:\n  groups: [session, player, lights, bridge, cars]\n")
    done = run("-c", str(config))
    assert done.returncode == 0, done.stderr
    exclude = YAML(typ="safe").load(done.stdout)["recorder"]["exclude"]
    entities = set(exclude["entities"])

    s = default_settings()
    s = dataclasses.replace(s, mqtt=dataclasses.replace(s.mqtt, rig="rig7"), homeassistant=dataclasses.replace(
        s.homeassistant, groups=("session", "player", "lights", "bridge", "cars")))
    ha = HomeAssistant(s, None, policy=TopicPolicy(s), outbox=Outbox())
    limited = {ha.config(e)["default_entity_id"] for e in ha.entities if e.limited}
    facts = {ha.config(e)["default_entity_id"] for e in ha.entities if not e.limited}
    assert limited <= entities and not facts & entities
    assert {"sensor.rigbridge_rig7_player_speed_kph", "sensor.rigbridge_rig7_speed"} <= entities  # both id forms
    assert "sensor.rigbridge_rig7_session_track" not in entities
    assert "sensor.rigbridge_rig7_cars_*" in exclude["entity_globs"]


def test_recorder_exclude_with_a_bad_config_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("homeassistant:\n  groups: [nonsense]\n")
    done = run("-c", str(config))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "homeassistant.groups" in done.stderr
