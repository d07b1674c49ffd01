"""What every catalogue topic should carry for a state, for tests and benchmarks that check a subscriber."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.publish.catalog import CATALOG, Field


def catalogue_payloads(
    view: Any, context: Any, root: str, keep: Callable[[Field], bool] = lambda f: True
) -> dict[str, str]:
    """Topic -> payload of every kept catalogue field the running game provides, for the player and each active car
    of `view`."""
    out: dict[str, str] = {}
    for f in CATALOG:
        if not keep(f) or not view.provides(f.path):
            continue
        subjects: list[tuple[Any, int | None]]
        if f.scope == "car":
            subjects = [(view.car(i), i) for i in view.active]
        elif f.scope == "player":
            subjects = [(view.player, None)] if view.player is not None else []
        else:
            subjects = [(context, None)]
        for subject, car in subjects:
            payload = f.render(f.read(subject))
            if payload is not None:
                out[f"{root}/{f.topic(car)}"] = payload
    return out
