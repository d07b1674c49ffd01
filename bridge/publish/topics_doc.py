"""`rigbridge topics [--markdown]`: the field catalogue as a table (docs/topics.md is this output)."""

from __future__ import annotations

from bridge.publish.catalog import CATALOG, EVENT_TOPIC, NOTES, Field
from bridge.state.values import GAMES

HEADER = """# MQTT topics

Generated from the field catalogue (`bridge/publish/catalog.py`) by `rigbridge topics --markdown`; a test fails
when this file and the catalogue differ. Every topic lives under `<base_topic>/<rig>/` (default
`rigbridge/<hostname>/`). Payloads are plain UTF-8: numbers in shortest form, booleans `true`/`false`, enums as
lowercase names. `player/...` is the player's car; `cars/<index>/...` every active car (index = the game's car
slot, 0-21, or 0-23 in the 2026 format). Rate classes: `realtime` = every packet that changes it, `on_change` =
as soon as it changes, `fast`/`normal`/`slow` = at most `publish.rates` Hz (defaults 10 / 2 / 0.2), always
change-only and beyond the deadband. `games`: the games that provide the field (a field the running game does not
provide is neither published, nor announced to Home Assistant, nor exported as a metric).

Besides the table: `status` (`online`/`offline`, retained, QoS 1, the Last Will), `bridge/uptime_s` (QoS 1
heartbeat) and `{event}` (one JSON message per game event, never retained, QoS 1). With Home Assistant
discovery on: `ha/<path>` (a retained copy of a fast field, at most `homeassistant.max_rate_hz` per second) and
`ha/event/<name>` (Home Assistant event entities); see [homeassistant.md](homeassistant.md).
"""


def _row(f: Field) -> list[str]:
    topic = f.path.replace("{car}", "<index>")
    return [
        f"`{topic}`",
        f.unit or "",
        f.kind + (f" ({f.precision} dp)" if f.kind == "float" and f.precision else ""),
        f.rate,
        f"{f.deadband:g}" if f.deadband else "",
        "yes" if f.retain else "no",
        str(f.qos),
        ", ".join(t.game for t in GAMES if t.provides(f.path)),
        f.description,
    ]


def render(markdown: bool) -> str:
    columns = ["topic", "unit", "payload", "rate", "deadband", "retain", "qos", "games", "description"]
    rows = [_row(f) for f in CATALOG]
    if markdown:
        lines = [HEADER.format(event=EVENT_TOPIC.replace("{code}", "<CODE>"))]
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        lines.extend("| " + " | ".join(r) + " |" for r in rows)
        return "\n".join(lines) + "\n" + NOTES
    widths = [max(len(c), *(len(r[i].strip("`")) for r in rows)) for i, c in enumerate(columns[:-1])]
    out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)) + "  description"]
    for r in rows:
        out.append("  ".join(v.strip("`").ljust(w) for v, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return "\n".join(out) + "\n"
