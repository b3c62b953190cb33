"""The `opsconsole bench ...` subcommands: each imports its benchmark only when run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# ruff: noqa: PLC0415


def cmd_bench_users(args: argparse.Namespace) -> int:
    from opsconsole.bench.users import run

    run(count=args.count, db_url=args.db, out=print)
    return 0


def cmd_bench_gate(args: argparse.Namespace) -> int:
    from opsconsole.bench.gate import run

    run(
        users=args.users,
        decisions=args.decisions,
        admits=args.admits,
        redis=args.redis,
        postgres=args.postgres,
        out=print,
    )
    return 0


def cmd_bench_foundation(args: argparse.Namespace) -> int:
    from opsconsole.bench.foundation import run

    run(db_url=args.db, repeat=args.repeat, out=print)
    return 0


def cmd_bench_console(args: argparse.Namespace) -> int:
    from opsconsole.bench.console import run

    run(
        updates=args.updates,
        cold_starts=args.cold_starts,
        screenshot=args.screenshot,
        out=print,
    )
    return 0


def cmd_bench_wall(args: argparse.Namespace) -> int:
    from opsconsole.bench.wall import run

    run(snapshots=args.snapshots, screenshot=args.screenshot, out=print)
    return 0


def cmd_bench_stream(args: argparse.Namespace) -> int:
    from opsconsole.bench.stream import run

    run(
        consoles=args.consoles,
        rate=args.rate,
        seconds=args.seconds,
        users=args.users,
        repeat=args.repeat,
        out=print,
    )
    return 0


def add_bench_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser("bench", help="benchmarks that print figures").add_subparsers(
        dest="bench_command", required=True, metavar="BENCH"
    )
    users = bench.add_parser("users", help="user search latency on a large population")
    users.add_argument("--count", type=int, default=1_000_000)
    users.add_argument("--db", metavar="URL", help="database to fill (default: a temporary SQLite)")
    users.set_defaults(handler=cmd_bench_users)
    gate = bench.add_parser("gate", help="decision time, admits/s, reports/s, switch propagation")
    gate.add_argument("--users", type=int, default=100_000)
    gate.add_argument("--decisions", type=int, default=200_000, help="in-process decisions")
    gate.add_argument("--admits", type=int, default=30_000, help="admits over HTTP")
    gate.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("OPSCONSOLE_BENCH_REDIS"),
        help="with --postgres, also measure two replicas sharing this Redis (keys under "
        "opsconsole-bench: are cleared)",
    )
    gate.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("OPSCONSOLE_BENCH_POSTGRES"),
        help="PostgreSQL server URL; the two-replica figure runs on a scratch database there",
    )
    gate.set_defaults(handler=cmd_bench_gate)
    foundation = bench.add_parser("foundation", help="login and audit-write latency")
    foundation.add_argument("--repeat", type=int, default=200)
    foundation.add_argument("--db", metavar="URL", help="database (default: a temporary SQLite)")
    foundation.set_defaults(handler=cmd_bench_foundation)
    console = bench.add_parser("console", help="console frame time and cold start, offscreen")
    console.add_argument("--updates", type=int, default=300, help="snapshots (1 per frame)")
    console.add_argument("--cold-starts", type=int, default=5, help="fresh interpreters")
    console.add_argument("--screenshot", type=Path, help="save the window after the updates")
    console.set_defaults(handler=cmd_bench_console)
    wall = bench.add_parser("wall", help="wall display over a simulated day: memory, update time")
    wall.add_argument("--snapshots", type=int, default=86_400, help="one per simulated second")
    wall.add_argument("--screenshot", type=Path, help="save the wall after the run")
    wall.set_defaults(handler=cmd_bench_wall)
    stream = bench.add_parser("stream", help="report-to-snapshot lag on many consoles, CPU")
    stream.add_argument("--consoles", type=int, default=50)
    stream.add_argument("--rate", type=int, default=1000, help="usage reports per second")
    stream.add_argument("--seconds", type=float, default=20.0, help="per measurement")
    stream.add_argument("--users", type=int, default=10_000)
    stream.add_argument("--repeat", type=int, default=2, help="rounds of (0, N consoles)")
    stream.set_defaults(handler=cmd_bench_stream)
