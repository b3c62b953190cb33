"""What several subcommands share: the store flags and what flags resolve to (settings, the
database), and the shape of a command made of actions (`opsconsole db upgrade`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable

# What `add_subparsers` returns: where a command or an action adds its parser.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def settings_from(args: argparse.Namespace) -> Any:
    """Settings from defaults, OPSCONSOLE_* variables and the flags given (flags win)."""
    from opsconsole.server.settings import Settings

    given = {
        name: getattr(args, name)
        for name in ("db", "data_dir", "host", "port", "tls", "tls_cert", "tls_key", "redis")
        if getattr(args, name, None) not in (None, "")
    }
    if getattr(args, "insecure_http", False):
        given["insecure_http"] = True
    return Settings(**given)


def add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
        "(default: SQLite in the data directory; env OPSCONSOLE_DB)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the SQLite file and TLS files live (env OPSCONSOLE_DATA_DIR)",
    )


def prepared_database(args: argparse.Namespace) -> Any:
    """The database the store flags name, and the settings.

    SQLite is migrated on the spot; a PostgreSQL that `db upgrade` has not brought up to this
    version ends the command (exit code 1) with the reason.
    """
    from opsconsole.server.app import StaleDatabaseError, prepare_database
    from opsconsole.server.db import Database

    settings = settings_from(args)
    db = Database(settings.database_url)
    try:
        prepare_database(db)
    except StaleDatabaseError as error:
        raise SystemExit(f"error: {error}") from None
    return db, settings


def add_action_group(commands: Subcommands, name: str, summary: str) -> Subcommands:
    """`opsconsole NAME ACTION ...`: a command that is a group of actions, one of them required."""
    return commands.add_parser(name, help=summary).add_subparsers(
        dest=f"{name}_command", required=True, metavar="ACTION"
    )


def add_store_action(
    group: Subcommands,
    name: str,
    summary: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """An action on the store the flags name; its own options, if any, follow the store flags."""
    action = group.add_parser(name, help=summary)
    add_store_flags(action)
    action.set_defaults(handler=handler)
    return action
