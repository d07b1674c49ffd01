"""`rigbridge topics` and docs/topics.md come from the catalogue, and stay in step with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import bridge.games.registry  # noqa: F401 - the games register the fields they provide (the doc's games column)
from bridge.publish.catalog import CATALOG
from bridge.publish.topics import MAX_SEGMENT, MAX_TOPIC, TopicError, checked, join, segment
from bridge.publish.topics_doc import render

ROOT = Path(__file__).resolve().parents[2]


def test_docs_topics_md_is_the_generated_catalogue() -> None:
    doc = (ROOT / "docs" / "topics.md").read_text(encoding="utf-8")
    assert doc == render(markdown=True), "docs/topics.md is stale: run `rigbridge topics --markdown > docs/topics.md`"


def test_topics_command_lists_every_field() -> None:
    out = subprocess.run([sys.executable, "-m", "bridge", "topics"], capture_output=True, text=True, check=True).stdout
    for f in CATALOG:
        assert f.path.replace("{car}", "<index>") in out


@given(st.text(max_size=300))
def test_segments_from_data_are_always_safe(text: str) -> None:
    s = segment(text)
    assert s and len(s) <= MAX_SEGMENT
    assert not any(c in s for c in "+#/$\0")
    assert checked(f"rigbridge/{s}/x") == f"rigbridge/{s}/x"


@given(st.lists(st.text(max_size=80), min_size=1, max_size=8))
def test_topics_built_from_data_are_bounded_and_wildcard_free(parts: list[str]) -> None:
    try:
        topic = join("rigbridge", *(segment(p) for p in parts))
    except TopicError:
        assert len("/".join(["rigbridge", *(segment(p) for p in parts)]).encode()) > MAX_TOPIC
        return
    assert len(topic.encode()) <= MAX_TOPIC and "+" not in topic and "#" not in topic and not topic.startswith("$")


def test_checked_rejects_wildcards_system_topics_and_empty_levels() -> None:
    for bad in ["a/+/b", "a/#", "$SYS/x", "/a", "a/", "a//b", "a\0b", "", "x" * (MAX_TOPIC + 1)]:
        try:
            checked(bad)
        except TopicError:
            continue
        raise AssertionError(f"{bad!r} accepted")
