"""The `export` settings: off by default, a folder the bridge can write (or create), a bounded idle time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, default_settings, load_settings


def test_export_is_off_by_default() -> None:
    assert default_settings().export.dir is None
    assert default_settings().export.idle_s == 60.0


def test_a_folder_to_create_is_accepted_relative_to_the_file(tmp_path: Path) -> None:
    config = tmp_path / "rigbridge.yaml"
    config.write_text("export:\n  dir: sessions/2026\n  idle_s: 5\n")
    settings = load_settings(config, env={})
    assert settings.export.dir == str(tmp_path / "sessions" / "2026") and settings.export.idle_s == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("export:\n  dir: blocker/sub\n", "blocker is not a directory"),
        ("export:\n  dir: blocker\n", "not a directory"),
        ("export:\n  idle_s: 0\n", "export.idle_s: must be a number from 1 to 86400"),
        ("export:\n  idle_s: .nan\n", "export.idle_s"),
        ("export:\n  dir: 5\n", "export.dir: must be a directory path"),
        ("export:\n  folder: x\n", "export.folder"),
    ],
)
def test_bad_export_settings_are_reported_with_their_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "blocker").write_bytes(b"")
    config = tmp_path / "rigbridge.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    error = str(caught.value)
    assert message in error and "rigbridge.yaml:2:" in error, error
