"""The `opsconsole` command: serve, admin, db, audit, bench, sim, history, console and demo.

The subcommands live in `opsconsole.commands` (and the benchmarks' in `opsconsole.bench`); this
module puts them under one parser and is what the `opsconsole` script and
`python -m opsconsole.cli` run.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence

import opsconsole
from opsconsole.bench.commands import add_bench_parser
from opsconsole.commands.admin import add_admin_parser
from opsconsole.commands.desktop import add_console_parsers
from opsconsole.commands.maintenance import add_audit_parser, add_db_parser
from opsconsole.commands.serve import add_serve_parser
from opsconsole.commands.sim import add_history_parser, add_sim_parser

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsconsole", description="Control plane and operations console for AI apps."
    )
    parser.add_argument(
        "--version", action="version", version=f"opsconsole {opsconsole.__version__}"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In the order `--help` lists them.
    add_serve_parser(commands)
    add_admin_parser(commands)
    add_db_parser(commands)
    add_audit_parser(commands)
    add_bench_parser(commands)
    add_sim_parser(commands)
    add_history_parser(commands)
    add_console_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every migration step at INFO; operators need only problems.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
