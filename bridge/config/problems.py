"""What is wrong with a config file: one `Problem` per mistake, all of them raised together as a `ConfigError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class _NoValue:
    """Marks a problem that has no offending value to show (unknown key, duplicate key, cross-field rule)."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()


class Shape:
    """Stands in for a mapping or list value in a problem: rendered as `a mapping`, not as its whole content."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Shape) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file: `file:line: key.path: message (got value)`; line is 1-based."""

    file: str
    line: int
    key: str
    message: str
    value: object = NO_VALUE

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: {self.key}: {self.message}"
        if self.value is not NO_VALUE:
            text += f" (got {_short_repr(self.value)})"
        return text


class ConfigError(Exception):
    """Raised by `load_settings` with every problem found; `str()` gives one problem per line, in line order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

