"""The state of one load and the YAML node helpers: every value keeps the line it was written on."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bridge.config.problems import NO_VALUE, Problem, Shape

MAX_DEPTH = 32  # the schema nests 4 levels; the bound keeps a hostile file from exhausting the stack


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


INVALID: Any = _Sentinel("INVALID")  # the value had a problem, already recorded
DEFAULT: Any = _Sentinel("DEFAULT")  # null where a default is fine: keep the dataclass default

_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CORE_TAG_PREFIX = "tag:yaml.org,2002:"


class Ctx:
    """State of one load: where problems go, the line of every key seen, which values were invalid."""

    def __init__(self, file: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.env = env
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.invalid: set[str] = set()
        self._yaml = YAML(typ="safe", pure=True)

    def add(self, path: str, message: str, value: object = NO_VALUE, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, line or self.line_of(path), path or "<file>", message, value))

    def line_of(self, path: str) -> int:
        """Line of `path`, else of its nearest enclosing key that appears in the file, else 1."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = _parent(path)
        return 1

    def given(self, path: str) -> bool:
        return path in self.lines

    def ok(self, *paths: str) -> bool:
        return not any(path in self.invalid for path in paths)

    def compose(self, text: str) -> Node | None:
        """The node tree, or None with a problem when the file nests deeper than `MAX_DEPTH`.

        The depth is counted over the event stream first (the parser is iterative), because composing is
        recursive and a file nested a few hundred levels deep would otherwise exhaust the stack.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            depth = 0
            for event in self._yaml.parse(text):
                if isinstance(event, CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        line = int(event.start_mark.line) + 1
                        self.add("", f"nested deeper than {MAX_DEPTH} levels", line=line)
                        return None
                elif isinstance(event, CollectionEndEvent):
                    depth -= 1
            return self._yaml.compose(text)  # type: ignore[no-any-return]

    def construct(self, node: Node) -> Any:
        return self._yaml.constructor.construct_object(node, deep=True)


def join_key(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _parent(path: str) -> str:
    if path.endswith("]") and "[" in path:
        return path[: path.rindex("[")]
    return path.rsplit(".", 1)[0] if "." in path else ""


def node_line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG)


def plain(ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
    """The Python value of a scalar node; a `Shape` for a mapping or list; `INVALID` for an unknown tag."""
    if node is None:
        return None
    if isinstance(node, MappingNode):
        return Shape("a mapping")
    if isinstance(node, SequenceNode):
        return Shape("a list")
    if not str(node.tag).startswith(_CORE_TAG_PREFIX):
        ctx.add(path, f"unsupported YAML tag {node.tag}", line=line)
        return INVALID
    try:
        return ctx.construct(node)
    except YAMLError as exc:
        ctx.add(path, f"unreadable value: {getattr(exc, 'problem', None) or type(exc).__name__}", line=line)
        return INVALID
    except (ValueError, OverflowError) as exc:  # e.g. a 5,000-digit integer, month 13 in a date, '!!float foo'
        ctx.add(path, f"unreadable value: {exc}", node.value, line)
        return INVALID


def iter_mapping(ctx: Ctx, node: MappingNode, path: str) -> Iterator[tuple[str, int, Node]]:
    """(key, key line, value node) per entry; merge keys, non-string keys and repeats are reported and skipped."""
    first_line: dict[str, int] = {}
    for key_node, value_node in node.value:
        key_line = node_line(key_node)
        if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE_TAG:
            ctx.add(join_key(path, "<<"), "merge keys (<<) are not supported; write the keys out", line=key_line)
            continue
        if not isinstance(key_node, ScalarNode):
            ctx.add(join_key(path, "?"), "keys must be plain strings", plain(ctx, key_node, path, key_line), key_line)
            continue
        name = str(key_node.value)
        if name in first_line:
            ctx.add(join_key(path, name), f"duplicate key; first defined on line {first_line[name]}", line=key_line)
            continue
        first_line[name] = key_line
        yield name, key_line, value_node

