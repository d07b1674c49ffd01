"""Entry points: load a file (or the defaults) into `Settings`, and `rigbridge check-config`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import Node
from ruamel.yaml.reader import ReaderError

from bridge.config.context import INVALID, Ctx
from bridge.config.problems import ConfigError, Problem
from bridge.config.schema import SCHEMA
from bridge.settings import Settings

MAX_FILE_BYTES = 1 << 20  # a full config is a few KiB; reading stops here, so /dev/zero ends at once
MAX_PROBLEMS = 100  # reported per load; the count of the rest is the last line


def load_text(text: str | None, file: str, base_dir: Path, env: Mapping[str, str]) -> Settings:
    ctx = Ctx(file, base_dir, env)
    root: Node | None = None
    if text is not None:
        try:
            root = ctx.compose(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
            ctx.add("", f"not valid YAML: {reason}", line=int(mark.line) + 1 if mark else 1)
        except ReaderError as exc:
            line = text.count("\n", 0, max(int(exc.position), 0)) + 1
            ctx.add("", f"not valid YAML: {exc.reason} (character {exc.character!r})", line=line)
        except YAMLError as exc:
            ctx.add("", f"not valid YAML: {type(exc).__name__}", line=1)
    settings = SCHEMA(ctx, root, "", 1) if not ctx.problems else INVALID
    if ctx.problems or settings is INVALID:
        problems = sorted(ctx.problems, key=lambda problem: problem.line)
        if len(problems) > MAX_PROBLEMS:  # a screenful is enough to act on; a hostile file can make 100,000
            rest = len(problems) - MAX_PROBLEMS
            more = Problem(file, problems[MAX_PROBLEMS].line, "<file>", f"{rest} more problems not shown")
            problems = [*problems[:MAX_PROBLEMS], more]
        raise ConfigError(problems)
    assert isinstance(settings, Settings)
    return settings


def default_settings() -> Settings:
    """Every setting at its default (no file, no environment); `mqtt.client_id` is fresh on each call."""
    return load_text(None, "<defaults>", Path.cwd(), {})


def load_settings(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate a config file (None: defaults only), then apply the secret environment overrides.

    `env` defaults to `os.environ`; pass `{}` to ignore the environment. Relative paths in the file are relative
    to the file's directory. Raises `ConfigError` listing every problem found.
    """
    environment = os.environ if env is None else env
    if path is None:
        return load_text(None, "<defaults>", Path.cwd(), environment)
    file = os.fspath(path)
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # never more: /dev/zero or a huge file ends here
    except OSError as exc:
        raise ConfigError([Problem(file, 1, "<file>", f"cannot read file: {exc.strerror or exc}")]) from None
    if len(data) > MAX_FILE_BYTES:
        message = f"file too large: more than {MAX_FILE_BYTES} bytes (a config file is a few KiB)"
        raise ConfigError([Problem(file, 1, "<file>", message)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([Problem(file, line, "<file>", "not UTF-8 text")]) from None
    return load_text(text, file, Path(file).parent, environment)


def check_config_main(path: str, out: TextIO) -> int:
    """`rigbridge check-config`: 0 and a summary when the file is valid, else 2 and every problem, one per line."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        return 2
    print(f"{path}: ok", file=out)
    print(settings.summary(), file=out)
    return 0
