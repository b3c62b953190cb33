"""The `opsconsole bench ...` subcommands: each imports its benchmark only when run."""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
from pathlib import Path


def _run_bench(name: str, args: argparse.Namespace) -> int:
    """Import `opsconsole.bench.<name>` only now, and call its `run` with the flags it names.

    Each bench's flags are the keywords of its `run` (`--db` is stored as `db_url`), so one
    handler serves them all; the figures go to stdout.
    """
    run = importlib.import_module(f"opsconsole.bench.{name}").run
    wanted = [keyword for keyword in inspect.signature(run).parameters if keyword != "out"]
    run(**{keyword: getattr(args, keyword) for keyword in wanted}, out=print)
    return 0


def _add_bench(
    benches: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    bench = benches.add_parser(name, help=summary)
    bench.set_defaults(handler=functools.partial(_run_bench, name))
    return bench


def add_bench_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    benches = commands.add_parser("bench", help="benchmarks that print figures").add_subparsers(
        dest="bench_command", required=True, metavar="BENCH"
    )
    users = _add_bench(benches, "users", "user search latency on a large population")
    users.add_argument("--count", type=int, default=1_000_000)
    users.add_argument(
        "--db", dest="db_url", metavar="URL", help="database to fill (default: a temporary SQLite)"
    )
    gate = _add_bench(benches, "gate", "decision time, admits/s, reports/s, switch propagation")
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
    foundation = _add_bench(benches, "foundation", "login and audit-write latency")
    foundation.add_argument("--repeat", type=int, default=200)
    foundation.add_argument(
        "--db", dest="db_url", metavar="URL", help="database (default: a temporary SQLite)"
    )
    console = _add_bench(benches, "console", "console frame time and cold start, offscreen")
    console.add_argument("--updates", type=int, default=300, help="snapshots (1 per frame)")
    console.add_argument("--cold-starts", type=int, default=5, help="fresh interpreters")
    console.add_argument("--screenshot", type=Path, help="save the window after the updates")
    wall = _add_bench(benches, "wall", "wall display over a simulated day: memory, update time")
    wall.add_argument("--snapshots", type=int, default=86_400, help="one per simulated second")
    wall.add_argument("--screenshot", type=Path, help="save the wall after the run")
    stream = _add_bench(benches, "stream", "report-to-snapshot lag on many consoles, CPU")
    stream.add_argument("--consoles", type=int, default=50)
    stream.add_argument("--rate", type=int, default=1000, help="usage reports per second")
    stream.add_argument("--seconds", type=float, default=20.0, help="per measurement")
    stream.add_argument("--users", type=int, default=10_000)
    stream.add_argument("--repeat", type=int, default=2, help="rounds of (0, N consoles)")
