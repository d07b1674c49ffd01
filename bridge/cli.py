"""The `rigbridge` command line: one subcommand per job, each with an example in its help."""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Callable, Sequence

from bridge import __version__
from bridge.limits import MAX_SPEED, MIN_SPEED, duration_problem, speed_problem

Handler = Callable[[argparse.Namespace], int]

def bounded_float(problem: Callable[[float], str | None]) -> Callable[[str], float]:
    """An argparse type: a number that `problem` has nothing against."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        reason = problem(value)
        if reason is not None:
            raise argparse.ArgumentTypeError(reason)
        return value

    return parse


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high} (got {text})")
        return value

    return parse


DURATION = bounded_float(duration_problem)
SPEED = bounded_float(speed_problem)


def _cmd_check_config(args: argparse.Namespace) -> int:
    from bridge.config import check_config_main

    return check_config_main(args.file, out=sys.stdout)


def _cmd_run(args: argparse.Namespace) -> int:
    from bridge.app import default_config_path, run_main

    return run_main(args.config or default_config_path())


def _cmd_synth(args: argparse.Namespace) -> int:
    from bridge.games.registry import BY_KEY
    from bridge.games.sender import synth_command
    from bridge.games.synth_plan import SynthOptions

    game = BY_KEY[args.game]
    assert game.synth_plan is not None, f"{game.key} has no synthetic race"
    options = SynthOptions(rate=args.rate, laps=args.laps, seed=args.seed, variant=args.variant,
                           packet_format=args.format, cars=args.cars)
    to = args.to or f"127.0.0.1:{game.default_port}"
    return synth_command(game.synth_plan, options, to=to, duration=args.duration, speed=args.speed)


def _cmd_demo(args: argparse.Namespace) -> int:
    from bridge.app import default_config_path
    from bridge.demo import demo_main

    return demo_main(args.config or default_config_path(), duration=args.duration, broker=args.broker, game=args.game)


def _cmd_topics(args: argparse.Namespace) -> int:
    import bridge.games.registry  # noqa: F401 - the games register which fields they provide
    from bridge.publish.topics_doc import render

    sys.stdout.write(render(markdown=args.markdown))
    return 0


def _cmd_ha_recorder_exclude(args: argparse.Namespace) -> int:
    from bridge.app import default_config_path
    from bridge.config import ConfigError, load_settings
    from bridge.publish.homeassistant import recorder_exclude

    try:
        settings = load_settings(args.config or default_config_path())
    except ConfigError as exc:
        print(f"rigbridge: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    sys.stdout.write(recorder_exclude(settings))
    return 0


def _cmd_decode(args: argparse.Namespace) -> int:
    from bridge.decode_cli import decode_files

    return decode_files(args.files, out=sys.stdout, game=args.game)


def _cmd_record(args: argparse.Namespace) -> int:
    from bridge.ingest.record import record_main

    return record_main(args.file, port=args.port, bind=args.bind, duration=args.duration, err=sys.stderr)


def _cmd_replay(args: argparse.Namespace) -> int:
    from bridge.ingest.record import replay_main

    return replay_main(
        args.file, to=args.to, speed=args.speed, max_speed=args.max, loop=args.loop, err=sys.stderr
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from bridge.export.offline import export_main

    return export_main(args.captures, out_dir=args.output, write_csv=args.csv, idle_s=args.idle)


def build_parser() -> argparse.ArgumentParser:
    from bridge.games.registry import GAMES  # the `--game` names; every command but `--version` needs it anyway

    game_keys = tuple(game.key for game in GAMES)
    parser = argparse.ArgumentParser(
        prog="rigbridge",
        description="F1 game UDP telemetry bridge: MQTT topic per field, Prometheus metrics, "
        "Home Assistant discovery and LED shift lights.",
    )
    parser.add_argument("--version", action="version", version=f"rigbridge {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
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
        # Also accepted after the subcommand; SUPPRESS keeps an absent one from resetting `rigbridge --debug CMD`.
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an unexpected error")
        return p

    p = add(
        "run",
        _cmd_run,
        "the daemon: UDP telemetry in, MQTT topics, metrics and Home Assistant discovery out",
        "rigbridge run -c config/rigbridge.yaml",
    )
    p.add_argument("-c", "--config", metavar="FILE", help="config file (default: ./rigbridge.yaml if present)")

    p = add(
        "demo",
        _cmd_demo,
        "a synthetic race through the real pipeline to a broker, with a live view; zero set-up",
        "rigbridge demo --duration 60",
    )
    p.add_argument("--duration", type=DURATION, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("-c", "--config", metavar="FILE", help="config file (its broker is used if it answers)")
    p.add_argument("--broker", choices=("auto", "configured", "mosquitto", "embedded"), default="auto",
                   help="auto: the configured broker if it answers, else mosquitto from PATH, else embedded")
    p.add_argument("--game", default="f1", metavar="GAME",
                   help="the game whose synthetic race is sent, by its udp.game name (default: f1)")

    p = add(
        "synth",
        _cmd_synth,
        "the synthetic game alone: a plausible race sent as real UDP telemetry (F1, or Forza with --game forza)",
        "rigbridge synth --to 127.0.0.1:20777 --rate 60 --cars 22 --format 2025 --duration 120\n"
        "  rigbridge synth --game forza --variant horizon --to 192.168.1.20:5300",
    )
    p.add_argument("--game", choices=game_keys, default="f1",
                   help="the game to imitate (default f1)")
    p.add_argument("--to", metavar="HOST:PORT",
                   help="where to send (default 127.0.0.1 on the game's port: 20777 for F1, 5300 for Forza)")
    p.add_argument("--rate", type=int, default=60, choices=(10, 20, 30, 60), help="UDP send rate in Hz")
    p.add_argument("--cars", type=bounded_int(2, 24), default=None,
                   help="cars in the race (F1: 2-22, 2-24 in format 2026, default 22; Forza: default 12)")
    p.add_argument("--format", type=int, default=None, choices=(2023, 2024, 2025, 2026),
                   help="F1's UDP format (default 2025)")
    p.add_argument("--variant", default=None, metavar="NAME",
                   help="Forza's datagram: sled (232 bytes, FM7), dash (311, FM7), horizon (324, FH4/FH5) or "
                   "motorsport (331, Forza Motorsport 2023; the default); GT7's packet size (344 the default); "
                   "OutGauge's sender (lfs the default, beamng, -id for the 96-byte datagram)")
    p.add_argument("--duration", type=DURATION, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--speed", type=SPEED, default=1.0, metavar="X",
                   help=f"time factor (2 = twice real time; {MIN_SPEED:g} to {MAX_SPEED:g})")
    p.add_argument("--seed", type=bounded_int(0, 2**32 - 1), default=1, help="race seed (same seed, same race)")
    p.add_argument("--laps", type=bounded_int(1, 100), default=5, help="laps per race (1-100)")

    p = add(
        "decode",
        _cmd_decode,
        "print each datagram (raw .bin files or rigbridge captures) as one JSON object per line",
        "rigbridge decode capture.rbcap 2024-06.bin | jq .packet\n"
        "  rigbridge decode --game forza fm2023-dash-331.bin | jq .speed",
    )
    p.description = (
        "print each datagram (raw .bin files or rigbridge captures) as one JSON object per line.\n\n"
        "F1 datagrams print as header, packet and body; Forza's as {\"game\": \"forza\", \"packet\": VARIANT,\n"
        "...fields}, with the values as the game sends them (speed m/s, tyre temperatures °F, fuel 0-1).\n\n"
        "A raw file is one datagram, except a raw Forza recording: datagrams of one Forza size (232,\n"
        "311, 324 or 331 bytes) back to back with no header. Such a file is split by that size when it\n"
        "is a whole number of them and its first and last carry Forza's signature; with --game forza,\n"
        "whenever one Forza size divides the file."
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--game", choices=("auto", *game_keys), default="auto",
                   help="decode every datagram as this game's (default auto: the game its signature names)")

    p = add(
        "topics",
        _cmd_topics,
        "the field catalogue: every topic with unit, payload, rate class, retain and QoS",
        "rigbridge topics --markdown > docs/topics.md",
    )
    p.add_argument("--markdown", action="store_true", help="a Markdown table (docs/topics.md is this output)")

    p = add(
        "ha-recorder-exclude",
        _cmd_ha_recorder_exclude,
        "Home Assistant `recorder: exclude:` YAML for this rig's fast-changing entities",
        "rigbridge ha-recorder-exclude -c config/rigbridge.yaml >> /config/configuration.yaml",
    )
    p.add_argument("-c", "--config", metavar="FILE", help="config file (default: ./rigbridge.yaml if present)")

    p = add(
        "check-config",
        _cmd_check_config,
        "validate a config file; exit 0, or 2 with every error as file:line: key.path: message",
        "rigbridge check-config config/rigbridge.yaml",
    )
    p.add_argument("file", metavar="FILE")

    p = add(
        "record",
        _cmd_record,
        "capture UDP datagrams with their timing to a file (appends to an existing capture); Ctrl-C stops",
        "rigbridge record monza.rbcap --port 20777 --duration 600",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--port", type=bounded_int(0, 65535), default=20777,
                   help="UDP port to listen on (default 20777; 0: any free)")
    p.add_argument("--bind", default="0.0.0.0", metavar="ADDR", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--duration", type=DURATION, metavar="S", help="stop after S seconds (default: until Ctrl-C)")

    p = add(
        "replay",
        _cmd_replay,
        "send a capture's datagrams as UDP with the recorded timing, with a progress bar",
        "rigbridge replay monza.rbcap --to 127.0.0.1:20777 --speed 2",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--to", default="127.0.0.1:20777", metavar="HOST:PORT", help="destination (default 127.0.0.1:20777)"
    )
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=SPEED, default=1.0, metavar="X",
                      help=f"time scale: 2 plays twice as fast ({MIN_SPEED:g} to {MAX_SPEED:g})")
    pace.add_argument("--max", action="store_true", help="send as fast as possible, ignoring the timing")
    p.add_argument("--loop", action="store_true", help="start again at the end, until interrupted")

    p = add(
        "export",
        _cmd_export,
        "the session files (JSON, and CSV with --csv) of recorded races, as `export.dir` writes them live",
        "rigbridge export monza.rbcap -o results/ --csv",
    )
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="rigbridge capture files (rigbridge record)")
    p.add_argument("-o", "--output", default=".", metavar="DIR", help="folder for the files (default: here)")
    p.add_argument("--csv", action="store_true", help="also write a CSV next to each JSON: one row per lap per car")
    p.add_argument("--idle", type=DURATION, default=60.0, metavar="S",
                   help="a gap of S seconds between two datagrams ends a session (export.idle_s; default 60)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; whatever happens, the user sees a one-line message, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    name = f"rigbridge {args.command}"
    try:
        code = handler(args)
        sys.stdout.flush()  # a reader that went away shows here, not as a warning at interpreter exit
        return code
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_reader_gone():
            # The reader of our output stopped (`rigbridge decode ... | head`): its choice, not a failure.
            _discard_stdout()
            return 0
        if args.debug:
            raise
        # The last resort: every expected failure has its own message in its command.
        detail = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"{name}: unexpected error: {type(exc).__name__}{': ' + detail if detail else ''} "
            f"(run `rigbridge --debug {args.command} ...` to see where)",
            file=sys.stderr,
        )
        return 1


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end is closed (and not, say, a broker connection)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll on this platform, or stdout is not a real file
        return False


def _discard_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again (the Python docs' recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
