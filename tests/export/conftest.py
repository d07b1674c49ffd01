"""The export's tests: every document they produce is checked against the published JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "export.schema.json"


@pytest.fixture(scope="session")
def export_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="session")
def validate(export_schema: dict[str, Any]) -> Callable[[Any], None]:
    """Raises jsonschema.ValidationError (with the path of the first problem) when a document does not fit."""
    validator = jsonschema.Draft202012Validator(export_schema, format_checker=jsonschema.FormatChecker())

    def check(document: Any) -> None:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            raise AssertionError(f"{len(errors)} schema error(s); first at /{'/'.join(map(str, first.absolute_path))}:"
                                 f" {first.message[:300]}")

    return check


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
