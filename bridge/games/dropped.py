"""Why a datagram was not decoded: the falsy result every game's `decode()` returns instead of raising."""

from __future__ import annotations

from typing import Any

# The reasons shared by the games with one flat record; a game may add its own.
TOO_SHORT = "too_short"
WRONG_SIZE = "wrong_size"
BAD_MAGIC = "bad_magic"
IMPLAUSIBLE = "implausible"  # the size fits but the values cannot come from the game (a signature failed)


class Dropped:
    """Falsy, so `if not result:` reads as "did not decode"; `reason` is a short slug for counters."""

    __slots__ = ("game", "reason", "size", "detail")

    def __init__(self, game: str, reason: str, size: int, detail: str = "") -> None:
        self.game = game
        self.reason = reason
        self.size = size
        self.detail = detail

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Dropped({self.game!r}, {self.reason!r}, size={self.size})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"game": self.game, "error": self.reason, "size": self.size}
        if self.detail:
            out["detail"] = self.detail
        return out
