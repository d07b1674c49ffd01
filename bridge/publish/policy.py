"""Topic policy: what the settings say about every topic, decided in one place.

The root topic (`<base_topic>/<rig>`), the include/exclude verdicts, which scopes are published (`publish.cars`),
deadbands, the MQTT 5 message expiry rule, the QoS of each rate class and the rate classes' periods. The MQTT
engine, Home Assistant discovery and the MQTT link all ask this object, so a fact about topics is written once.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any

from bridge.publish.catalog import Field
from bridge.publish.topics import segment

# include/exclude verdicts kept. The catalogue's topics number well under a thousand (24 cars at most), but event
# topics carry the game's 4-letter code, and any datagram may name a new one: the cache starts over when full.
MAX_CACHED_VERDICTS = 4096
TIMED_RATES = ("on_change", "fast", "normal", "slow")  # rate classes read on a timer (realtime: at once)
FAST_RATES = frozenset({"realtime", "fast"})  # sent at `publish.qos_fast`


def root_topic(base_topic: str, rig: str) -> str:
    """`<base_topic>/<rig>`, the rig's name made safe as one topic level."""
    return f"{base_topic}/{segment(rig)}"


class TopicPolicy:
    """The publish settings as answers about topics and fields."""

    def __init__(self, settings: Any) -> None:
        mqtt, publish = settings.mqtt, settings.publish
        self.rig = segment(mqtt.rig)
        self.root = root_topic(mqtt.base_topic, mqtt.rig)
        self.cars: str = publish.cars  # all | player | none
        self._include: tuple[str, ...] = tuple(publish.include)
        self._exclude: tuple[str, ...] = tuple(publish.exclude)
        self._deadbands: tuple[tuple[str, float], ...] = tuple(publish.deadbands)
        self._verdicts: dict[str, bool] = {}
        # MQTT 5 message expiry: retained telemetry expires `expiry_s` after it was sent (MQTT 3.1.1 has none).
        self.expiry_s: int = publish.expiry_s if mqtt.protocol == 5 else 0
        self.expiry = self.expiry_s > 0
        self.qos_fast: int = publish.qos_fast
        rates = publish.rates
        # Highest rate of each class, in Hz: `on_change` is checked at the fast rate but has no rate of its own.
        self.rate_hz: dict[str, float] = {
            "realtime": math.inf, "on_change": 0.0, **{r: float(rates[r]) for r in ("fast", "normal", "slow")}
        }
        # Seconds between two turns of each timed class (`on_change` takes the fast class's turn).
        self.periods: dict[str, float] = {
            "on_change": 1.0 / rates.fast, **{r: 1.0 / rates[r] for r in TIMED_RATES[1:]}
        }

    def topic(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def allowed(self, relative: str) -> bool:
        """include/exclude globs over the topic path relative to `<base>/<rig>/`."""
        verdict = self._verdicts.get(relative)
        if verdict is None:
            include, exclude = self._include, self._exclude
            verdict = (not include or any(fnmatch.fnmatchcase(relative, p) for p in include)) and not any(
                fnmatch.fnmatchcase(relative, p) for p in exclude
            )
            if len(self._verdicts) >= MAX_CACHED_VERDICTS:
                self._verdicts.clear()
            self._verdicts[relative] = verdict
        return verdict

    def wanted_scope(self, f: Field) -> bool:
        """Whether `publish.cars` publishes fields of `f`'s scope (per car: `all`; the player's car: not `none`)."""
        if f.scope == "car":
            return self.cars == "all"
        if f.scope == "player":
            return self.cars in ("all", "player")
        return True

    def deadband(self, f: Field) -> float:
        """The field's deadband, or the last `publish.deadbands` glob matching its path."""
        deadband = f.deadband
        for pattern, value in self._deadbands:
            if fnmatch.fnmatchcase(f.path.replace("{car}", "*"), pattern) or fnmatch.fnmatchcase(f.path, pattern):
                deadband = value
        return deadband

    def qos(self, f: Field) -> int:
        return self.qos_fast if f.rate in FAST_RATES else max(f.qos, 0)

    def expires(self, retain: bool) -> bool:
        """Whether a message gets the MQTT 5 expiry: retained telemetry does, when the settings give one."""
        return retain and self.expiry


__all__ = ["MAX_CACHED_VERDICTS", "TIMED_RATES", "TopicPolicy", "root_topic"]
