"""The `rigbridge` command line: one subcommand per job, each with an example in its help."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bridge import __version__

Handler = Callable[[argparse.Namespace], int]


def _cmd_check_config(args: argparse.Namespace) -> int:
    from bridge.config import check_config_main

    return check_config_main(args.file, out=sys.stdout)


def _cmd_decode(args: argparse.Namespace) -> int:
    from bridge.games.f1.decode_cli import decode_files

    return decode_files(args.files, out=sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rigbridge",
        description="F1 game UDP telemetry bridge: MQTT topic per field, Prometheus metrics, "
        "Home Assistant discovery and LED shift lights.",
    )
    parser.add_argument("--version", action="version", version=f"rigbridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(handler=handler)
        return p

    p = add(
        "decode",
        _cmd_decode,
        "print each datagram (raw .bin files or rigbridge captures) as one JSON object per line",
        "rigbridge decode capture.rbcap 2024-06.bin | jq .packet",
    )
    p.add_argument("files", nargs="+", metavar="FILE")

    p = add(
        "check-config",
        _cmd_check_config,
        "validate a config file; exit 0, or 2 with every error as file:line: key.path: message",
        "rigbridge check-config config/rigbridge.yaml",
    )
    p.add_argument("file", metavar="FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)
