"""`opsconsole admin ...`: operators and app keys, created from the machine the store is on."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opsconsole.commands.flags import (
    Subcommands,
    add_action_group,
    add_store_action,
    add_store_flags,
    prepared_database,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from opsconsole.server.audit.service import Actor


@contextmanager
def _writing_as_cli_user(args: argparse.Namespace) -> Iterator[tuple[Session, Actor]]:
    """A write session on the flags' database, acting as the person at this terminal.

    The service refusing (a Problem: a taken name, say) ends the command with the refusal's
    detail and exit code 1.
    """
    from opsconsole.server.audit.service import Actor
    from opsconsole.server.errors import Problem

    db, _ = prepared_database(args)
    actor = Actor("system", f"cli:{getpass.getuser()}")
    try:
        with db.writing() as session:
            yield session, actor
    except Problem as problem:
        raise SystemExit(f"error: {problem.detail}") from None


def cmd_create_operator(args: argparse.Namespace) -> int:
    from opsconsole.server.auth import credentials
    from opsconsole.server.auth.service import create_operator
    from opsconsole.server.clock import SystemClock
    from opsconsole.wire.common import Role

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < 12:
            print("error: the password must be at least 12 characters", file=sys.stderr)
            return 2
    else:
        password = credentials.generate_password()
    with _writing_as_cli_user(args) as (session, actor):
        create_operator(
            session=session,
            username=args.name,
            role=Role(args.role),
            password=password,
            actor=actor,
            now=SystemClock().now(),
        )
    print(f"created operator {args.name!r} with role {args.role}")
    if not args.password_stdin:
        print(f"initial password (shown once, change it after the first login): {password}")
    return 0


def cmd_create_app_key(args: argparse.Namespace) -> int:
    from opsconsole.server.auth.service import create_app_key
    from opsconsole.server.clock import SystemClock

    with _writing_as_cli_user(args) as (session, actor):
        _, secret = create_app_key(
            session=session, name=args.name, actor=actor, now=SystemClock().now()
        )
    print(f"created app key {args.name!r}; it is shown once, store it in the app's secrets:")
    print(secret)
    return 0


def add_admin_parser(commands: Subcommands) -> None:
    admin = add_action_group(commands, "admin", "operators and app keys")
    create_op = admin.add_parser("create-operator", help="create an operator (a person)")
    create_op.add_argument("name")
    create_op.add_argument(
        "--role", required=True, choices=["admin", "oncall", "support", "billing", "viewer"]
    )
    create_op.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of generating one",
    )
    add_store_flags(create_op)  # after the operator's own flags, where its usage line has them
    create_op.set_defaults(handler=cmd_create_operator)
    create_key = add_store_action(
        admin, "create-app-key", "create a key for the AI app's backend", cmd_create_app_key
    )
    create_key.add_argument("name")
