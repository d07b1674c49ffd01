"""Optional: the bridge next to a real Home Assistant Core, read back through Home Assistant's REST API.

Skipped unless `RIGBRIDGE_HA_PYTHON` names a Python that has Home Assistant Core and paho-mqtt installed
(Home Assistant 2025.4 needs Python 3.13):

    ~/.pyenv/versions/3.13.0/bin/python3.13 -m venv /tmp/havenv
    /tmp/havenv/bin/pip install homeassistant==2025.4.4 paho-mqtt==2.1.0 home-assistant-frontend==20250411.0
    RIGBRIDGE_HA_PYTHON=/tmp/havenv/bin/python \
        .venv/bin/python -m pytest tests/homeassistant/test_real_home_assistant.py

The test starts Home Assistant (`--skip-pip`) with a minimal configuration on its own port, onboards a user,
sets up MQTT through the config flow against a test mosquitto, runs a synthetic race through the bridge and
checks what Home Assistant shows: readable enum states, icons, `unknown` after a new session, values after a
Home Assistant restart, availability when the game pauses, and the event entities.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Mosquitto
from tests.harness import BridgeThread, send_frames
from tests.homeassistant.test_discovery import ha_settings
from tests.homeassistant.test_ha_states import event_packets, race
from tools.net import free_port

HA_PYTHON = os.environ.get("RIGBRIDGE_HA_PYTHON")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.broker,
    pytest.mark.skipif(not HA_PYTHON, reason="set RIGBRIDGE_HA_PYTHON to a Python with homeassistant installed"),
]

CONFIGURATION = """\
homeassistant:
  name: rig test
  unit_system: metric
  time_zone: UTC
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  currency: EUR
  country: NL
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
onboarding:
config:
"""


class HomeAssistantCore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))

    def start(self) -> None:
        assert HA_PYTHON
        with (self.directory / "ha.log").open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [HA_PYTHON, "-m", "homeassistant", "-c", str(self.directory), "--skip-pip"],
                stdout=log, stderr=subprocess.STDOUT)
        self.wait(lambda: self.request("GET", "/api/onboarding", auth=False) is not None, 240, "Home Assistant up")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True, form: bool = False) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    @staticmethod
    def wait(predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise TimeoutError(f"no {what} within {timeout} s")

    def onboard(self) -> None:
        client_id = self.base + "/"
        user = self.request("POST", "/api/onboarding/users", {
            "client_id": client_id, "name": "Test", "username": "test", "password": "test-password-1",
            "language": "en"}, auth=False)
        assert user and "auth_code" in user, user
        token = self.request("POST", "/auth/token", {"grant_type": "authorization_code", "code": user["auth_code"],
                                                     "client_id": client_id}, auth=False, form=True)
        self.token = token["access_token"]

    def login(self) -> None:
        """After a restart: a fresh token through the login flow of the onboarded user."""
        client_id = self.base + "/"
        flow = self.request("POST", "/auth/login_flow", {"client_id": client_id, "handler": ["homeassistant", None],
                                                         "redirect_uri": client_id}, auth=False)
        done = self.request("POST", f"/auth/login_flow/{flow['flow_id']}", {
            "client_id": client_id, "username": "test", "password": "test-password-1"}, auth=False)
        token = self.request("POST", "/auth/token", {"grant_type": "authorization_code", "code": done["result"],
                                                     "client_id": client_id}, auth=False, form=True)
        self.token = token["access_token"]

    def setup_mqtt(self, port: int) -> None:
        flow = self.request("POST", "/api/config/config_entries/flow", {"handler": "mqtt",
                                                                        "show_advanced_options": False})
        assert flow and flow.get("type") == "form", flow
        result = self.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}",
                              {"broker": "127.0.0.1", "port": port})
        assert result and result.get("type") == "create_entry", result

    def states(self) -> dict[str, dict]:
        return {s["entity_id"]: s for s in self.request("GET", "/api/states") or []}


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def test_a_real_home_assistant_shows_what_the_bridge_means(broker: Mosquitto, tmp_path: Path) -> None:
    ha = HomeAssistantCore(tmp_path / "ha")
    ha.start()
    try:
        ha.onboard()
        ha.setup_mqtt(broker.port)
        groups = ("session", "player", "lights", "bridge", "events")
        bt = BridgeThread(ha_settings(broker.port, homeassistant={"groups": groups},
                                      udp={"receive_timeout_s": 3.0})).start()
        try:
            first = race(seed=7, track=17, seconds=80.0)
            send_frames(bt.udp_port, first + race(seed=11, track=26, seconds=3.0, offset=first[-1][0] + 0.1),
                        speed=20.0)
            ha.wait(lambda: ha.states().get("sensor.rigbridge_rig1_track", {}).get("state") == "Zandvoort", 30,
                    "the track in Home Assistant")
            time.sleep(2.0)
            states = ha.states()
            track = states["sensor.rigbridge_rig1_track"]
            assert track["attributes"]["icon"] == "mdi:go-kart-track"
            assert "Austria" in track["attributes"]["options"]
            for entity in ("sensor.rigbridge_rig1_last_lap", "sensor.rigbridge_rig1_session_best_lap",
                           "sensor.rigbridge_rig1_session_best_lap_driver",
                           "sensor.rigbridge_rig1_last_lap_sector_1_colour"):
                assert states[entity]["state"] == "unknown", (entity, states[entity]["state"])
            assert states["sensor.rigbridge_rig1_flag"]["state"] == "No flag"
            assert "event.rigbridge_rig1_safety_car_phase" in states
            assert all(s["attributes"].get("icon", "").startswith("mdi:") for e, s in states.items()
                       if e.split(".")[1].startswith("rigbridge_rig1_")), "an entity without an icon"

            # The game pauses: live values go unavailable, facts stay.
            ha.wait(lambda: ha.states()["sensor.rigbridge_rig1_gap_to_car_ahead"]["state"] == "unavailable", 15,
                    "live values unavailable after the game stopped")
            assert ha.states()["sensor.rigbridge_rig1_track"]["state"] == "Zandvoort"

            # Home Assistant restarts: every value is back within seconds (retained state topics).
            before = {e: s["state"] for e, s in ha.states().items() if e.split(".")[1].startswith("rigbridge_rig1_")}
            ha.stop()
            ha.start()
            ha.login()
            ha.wait(lambda: ha.states().get("sensor.rigbridge_rig1_track", {}).get("state") == "Zandvoort", 30,
                    "the track after Home Assistant restarted")
            time.sleep(3.0)
            after = {e: s["state"] for e, s in ha.states().items() if e.split(".")[1].startswith("rigbridge_rig1_")}
            changed = {e: (before[e], after.get(e)) for e in before
                       if not e.startswith("event.") and before[e] != after.get(e)
                       and "packets_per_s" not in e and "messages_per_s" not in e}
            assert not changed, changed

            # Events: a safety car and a wheel button reach their event entities.
            send_frames(bt.udp_port, event_packets())
            ha.wait(lambda: ha.states()["event.rigbridge_rig1_wheel_button"]["attributes"].get("event_type")
                    == "udp_action_2", 15, "the wheel button event")
            safety_car = ha.states()["event.rigbridge_rig1_safety_car_phase"]["attributes"]
            assert safety_car["event_type"] == "full_safety_car_deployed"
        finally:
            bt.stop()
    finally:
        ha.stop()
    # Home Assistant had nothing to complain about: no refused option, no unmatched payload, no invalid config.
    log = "".join(p.read_text(errors="replace") for p in (tmp_path / "ha").glob("home-assistant.log*"))  # both runs
    complaints = [line for line in log.splitlines() if ("WARNING" in line or "ERROR" in line) and "rigbridge" in line]
    assert not complaints, complaints[:5]
