"""`opsconsole db ...` and `opsconsole audit ...`: upkeep of the store, checks on its audit log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsconsole.commands.flags import (
    Subcommands,
    add_action_group,
    add_store_action,
    prepared_database,
    settings_from,
)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from opsconsole.server import migrate
    from opsconsole.server.db import Database

    settings = settings_from(args)
    db = Database(settings.database_url)
    before = migrate.current_revision(db.engine)
    migrate.upgrade(db.engine)
    after = migrate.current_revision(db.engine)
    print(f"database upgraded from {before or 'empty'} to {after}")
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    from opsconsole.server.backup import BackupError, backup_sqlite

    settings = settings_from(args)

    def show(copied: int, total: int) -> None:
        print(f"\rcopied {copied}/{total} pages", end="", file=sys.stderr, flush=True)

    try:
        result = backup_sqlite(settings.database_url, Path(args.destination), progress=show)
    except BackupError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(
        f"backed up {result.pages} pages ({result.bytes / 1e6:.1f} MB) to {result.path} "
        f"in {result.seconds:.2f} s; integrity check ok"
    )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from opsconsole.server.audit.service import verify_chain

    db, _ = prepared_database(args)
    with db.reading() as session:
        result = verify_chain(session=session)
    print(f"rows checked: {result.rows_checked}")
    print(f"head: seq {result.head_seq} hash {result.head_hash}")
    if result.first_break is None:
        print("chain intact")
        return 0
    brk = result.first_break
    print(f"CHAIN BROKEN at row {brk.seq} ({brk.kind}): {brk.detail}")
    return 1


def add_db_parser(commands: Subcommands) -> None:
    db = add_action_group(commands, "db", "database maintenance")
    add_store_action(db, "upgrade", "apply migrations (needed for PostgreSQL)", cmd_db_upgrade)
    backup = add_store_action(
        db, "backup", "copy a live SQLite database to a new file", cmd_db_backup
    )
    backup.add_argument("destination", help="the new file to write (must not exist)")


def add_audit_parser(commands: Subcommands) -> None:
    audit = add_action_group(commands, "audit", "audit log tools")
    add_store_action(
        audit, "verify", "walk the hash chain and name the first broken row", cmd_audit_verify
    )
