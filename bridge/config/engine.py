"""The validation engine: converters and the structures (optional, list, section) that compose them.

A converter either returns the typed value or records a `Problem` and returns `INVALID`; a `Section` builds a
settings dataclass from a mapping, then runs its cross-field checks on the built object.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from bridge.config.context import DEFAULT, INVALID, Ctx, is_null, iter_mapping, join_key, node_line, plain

# A converter turns the node under one key (None when the key is absent) into its typed value. `line` is the
# line of the key, used for problems about the whole value; list items use their own line.
Converter = Callable[[Ctx, "Node | None", str, int], Any]


class Reject(Exception):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message


def scalar(message: str, accept: Callable[[Any], Any], *, secret: bool = False) -> Converter:
    """A converter for one scalar: `accept` returns the typed value or raises `Reject` (optionally more precise)."""

    def convert(ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
        value = plain(ctx, node, path, line)
        if value is INVALID:
            return INVALID
        try:
            return accept(value)
        except Reject as reject:
            ctx.add(path, reject.message or message, "***" if secret else value, line)
            return INVALID

    return convert


def wrong_shape(ctx: Ctx, node: Node | None, path: str, line: int, message: str) -> Any:
    """A value that is not the mapping or list its key needs: reported (unless already, as a bad tag), `INVALID`."""
    value = plain(ctx, node, path, line)
    if value is not INVALID:
        ctx.add(path, message, value, line)
    return INVALID


def optional(convert: Converter) -> Converter:
    """null (or an absent key) is None; anything else goes to `convert`."""

    def convert_optional(ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
        return None if is_null(node) else convert(ctx, node, path, line)

    return convert_optional


def list_of(item: Converter, *, min_items: int = 0, unique: bool = False) -> Converter:
    """A YAML list of `item`s, stored as a tuple; null keeps the default."""

    def convert(ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
        if is_null(node):
            return DEFAULT
        if not isinstance(node, SequenceNode):
            return wrong_shape(ctx, node, path, line, "must be a list")
        items: list[Any] = []
        first_line: dict[Any, int] = {}
        failed = False
        for index, item_node in enumerate(node.value):
            item_path, item_line = f"{path}[{index}]", node_line(item_node)
            ctx.lines[item_path] = item_line
            value = item(ctx, item_node, item_path, item_line)
            if value is INVALID:
                ctx.invalid.add(item_path)
                failed = True
                continue
            if unique:
                if value in first_line:
                    ctx.add(item_path, f"listed twice; first on line {first_line[value]}", value, item_line)
                    failed = True
                    continue
                first_line[value] = item_line
            items.append(value)
        if len(node.value) < min_items:
            ctx.add(path, f"must have at least {min_items} entr{'y' if min_items == 1 else 'ies'}", line=line)
            failed = True
        return INVALID if failed else tuple(items)

    return convert


Check = Callable[[Ctx, Any, str], Any]


class Section:
    """A converter for a mapping that becomes dataclass `cls`; `keys` must name exactly its fields.

    Absent keys keep the dataclass default; a field without a default is a required key. Nested sections are
    converted even when absent, so their rules (environment overrides, computed defaults) always run. `checks`
    get the built object and return it, possibly replaced.
    """

    def __init__(self, cls: type, keys: Mapping[str, Converter], checks: tuple[Check, ...] = ()) -> None:
        fields = dataclasses.fields(cls)
        if sorted(f.name for f in fields) != sorted(keys):
            raise TypeError(f"schema of {cls.__name__} does not match its fields")
        self.cls = cls
        self.keys = {f.name: keys[f.name] for f in fields}
        self.required = [
            f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        self.checks = checks

    def __call__(self, ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
        given: dict[str, Node] = {}
        if not is_null(node):
            if not isinstance(node, MappingNode):
                expected = ", ".join(self.keys)
                message = "must be a mapping with keys" if path else "the top level must be a mapping of sections"
                return wrong_shape(ctx, node, path, line, f"{message}: {expected}")
            for name, key_line, value_node in iter_mapping(ctx, node, path):
                key_path = join_key(path, name)
                if name not in self.keys:
                    ctx.add(key_path, _unknown_key_message(name, list(self.keys)), line=key_line)
                    continue
                ctx.lines[key_path] = key_line
                given[name] = value_node
        kwargs: dict[str, Any] = {}
        failed = False
        for name, convert in self.keys.items():
            key_path = join_key(path, name)
            if name in given:
                value = convert(ctx, given[name], key_path, ctx.lines[key_path])
            elif isinstance(convert, Section):
                value = convert(ctx, None, key_path, line)
            elif name in self.required:
                ctx.add(key_path, "required key is missing", line=line)
                failed = True
                continue
            else:
                continue
            if value is INVALID:
                ctx.invalid.add(key_path)
                failed = failed or name in self.required
            elif value is not DEFAULT:
                kwargs[name] = value
        if failed:
            return INVALID
        built = self.cls(**kwargs)
        for check in self.checks:
            built = check(ctx, built, path)
        return built


def _unknown_key_message(name: str, expected: list[str]) -> str:
    message = f"unknown key; expected one of: {', '.join(expected)}"
    close = difflib.get_close_matches(name, expected, n=1)
    return f"{message}; did you mean {close[0]}?" if close else message

