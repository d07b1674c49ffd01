"""GT7's writer: the `process_*` function that folds a decrypted packet into the session state.

Single writer, synchronously, one packet at a time, no I/O. The packet becomes the latest record, read through
`values.py`; completed laps, personal and session bests and the stint come from the shared single-car writer
(`bridge/games/one_car/writer.py`): GT7 sends the lap being driven and the last lap's time, and its own best lap
stays -1 in replays, so the best is derived.

Packet ids count up by one per packet: a packet a little older than the latest (UDP reordering) is dropped as
stale; a big step back is the game or the console restarting, a fresh stream.
"""

from __future__ import annotations

from bridge.games.gt7.codec import Packet
from bridge.games.gt7.layouts import FLAGS
from bridge.games.gt7.values import GT7_VALUES
from bridge.games.one_car.writer import previous_record, process_laps, process_record
from bridge.state import changes as groups
from bridge.state.changes import Changes
from bridge.state.session import REORDERED, SessionState

STALE_WINDOW = 600  # packets (10 s at 60 Hz): an id this little behind the latest is late, further is a restart
_SESSION_FLAGS = 1 << FLAGS["in_race"] | 1 << FLAGS["paused"] | 1 << FLAGS["loading"]
_EVERY_PACKET = (groups.CAR_TELEMETRY, groups.CAR_LAP, groups.CAR_STATUS)  # every packet carries all of the car


def process_packet(state: SessionState, packet: Packet) -> Changes:
    """Fold one decoded packet into the state; returns (and leaves in `state.changed`) the groups it changed."""
    previous: Packet | None = previous_record(state, GT7_VALUES)
    if previous is not None and 0 < previous.packet_id - packet.packet_id <= STALE_WINDOW:
        state.changed.clear()
        state.stale_dropped[REORDERED] += 1
        return state.changed
    changed = process_record(state, packet, GT7_VALUES, _EVERY_PACKET)
    if previous is None or (previous["flags"] ^ packet["flags"]) & _SESSION_FLAGS or previous["cars"] != packet["cars"]:
        changed.add(groups.SESSION)
    process_laps(state)
    return changed
