"""The `opsconsole` command: serve, admin, db, audit and bench subcommands."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import opsconsole

log = logging.getLogger("opsconsole.cli")

Handler = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    """Settings from defaults, OPSCONSOLE_* variables and the flags given (flags win)."""
    from opsconsole.server.settings import Settings

    given = {
        name: getattr(args, name)
        for name in ("db", "data_dir", "host", "port", "tls", "tls_cert", "tls_key")
        if getattr(args, name, None) not in (None, "")
    }
    if getattr(args, "insecure_http", False):
        given["insecure_http"] = True
    return Settings(**given, **extra)


def _add_store_flags(parser: argparse.ArgumentParser) -> None:
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


# --- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from opsconsole.server import tls
    from opsconsole.server.app import StaleDatabaseError, create_app

    settings = _settings(args)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        print("error: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    ssl: dict[str, str] = {}
    scheme = "https"
    if settings.insecure_http:
        scheme = "http"
        log.warning(
            "serving plain HTTP: tokens and app keys cross the network unencrypted; "
            "use this only on loopback or behind a TLS-terminating proxy"
        )
    else:
        if settings.tls_cert and settings.tls_key:
            cert = tls.load(settings.tls_cert, settings.tls_key)
        else:
            cert = tls.ensure_self_signed(settings.data_dir, extra_hosts=(settings.host,))
            print(f"self-signed certificate: {cert.cert_path}")
        print(f"certificate SHA-256 fingerprint: {cert.fingerprint}")
        ssl = {"ssl_certfile": str(cert.cert_path), "ssl_keyfile": str(cert.key_path)}
    try:
        app = create_app(settings)
    except StaleDatabaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"opsconsole {opsconsole.__version__} serving on {scheme}://{settings.host}:{settings.port}"
    )
    print(f"database: {settings.database_url.split('@')[-1]}")
    sys.stdout.flush()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        server_header=False,
        **ssl,  # type: ignore[arg-type]
    )
    return 0


# --- admin ---------------------------------------------------------------------------------


def _database(args: argparse.Namespace) -> Any:
    from opsconsole.server.app import StaleDatabaseError, prepare_database
    from opsconsole.server.db import Database

    settings = _settings(args)
    db = Database(settings.database_url)
    try:
        prepare_database(db)
    except StaleDatabaseError as error:
        raise SystemExit(f"error: {error}") from None
    return db, settings


def cmd_create_operator(args: argparse.Namespace) -> int:
    from opsconsole.server.audit.service import Actor
    from opsconsole.server.auth import credentials
    from opsconsole.server.auth.service import create_operator
    from opsconsole.server.clock import SystemClock
    from opsconsole.server.errors import Problem
    from opsconsole.wire.common import Role

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < 12:
            print("error: the password must be at least 12 characters", file=sys.stderr)
            return 2
    else:
        password = credentials.generate_password()
    db, _ = _database(args)
    actor = Actor("system", f"cli:{getpass.getuser()}")
    try:
        with db.writing() as session:
            create_operator(
                session=session,
                username=args.name,
                role=Role(args.role),
                password=password,
                actor=actor,
                now=SystemClock().now(),
            )
    except Problem as problem:
        print(f"error: {problem.detail}", file=sys.stderr)
        return 1
    print(f"created operator {args.name!r} with role {args.role}")
    if not args.password_stdin:
        print(f"initial password (shown once, change it after the first login): {password}")
    return 0


def cmd_create_app_key(args: argparse.Namespace) -> int:
    from opsconsole.server.audit.service import Actor
    from opsconsole.server.auth.service import create_app_key
    from opsconsole.server.clock import SystemClock
    from opsconsole.server.errors import Problem

    db, _ = _database(args)
    actor = Actor("system", f"cli:{getpass.getuser()}")
    try:
        with db.writing() as session:
            _, secret = create_app_key(
                session=session, name=args.name, actor=actor, now=SystemClock().now()
            )
    except Problem as problem:
        print(f"error: {problem.detail}", file=sys.stderr)
        return 1
    print(f"created app key {args.name!r}; it is shown once, store it in the app's secrets:")
    print(secret)
    return 0


# --- db and audit --------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from opsconsole.server import migrate
    from opsconsole.server.db import Database

    settings = _settings(args)
    db = Database(settings.database_url)
    before = migrate.current_revision(db.engine)
    migrate.upgrade(db.engine)
    after = migrate.current_revision(db.engine)
    print(f"database upgraded from {before or 'empty'} to {after}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from opsconsole.server.audit.service import verify_chain

    db, _ = _database(args)
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


# --- bench ---------------------------------------------------------------------------------


def cmd_bench_users(args: argparse.Namespace) -> int:
    from opsconsole.bench.users import run

    run(count=args.count, db_url=args.db, out=print)
    return 0


def cmd_bench_foundation(args: argparse.Namespace) -> int:
    from opsconsole.bench.foundation import run

    run(db_url=args.db, repeat=args.repeat, out=print)
    return 0


# --- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsconsole", description="Control plane and operations console for AI apps."
    )
    parser.add_argument(
        "--version", action="version", version=f"opsconsole {opsconsole.__version__}"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the control plane")
    _add_store_flags(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8443)")
    serve.add_argument(
        "--tls",
        choices=["self-signed"],
        help="make a self-signed certificate once in the data directory (the default "
        "when no --tls-cert is given)",
    )
    serve.add_argument("--tls-cert", type=Path, metavar="PEM", help="certificate chain file")
    serve.add_argument("--tls-key", type=Path, metavar="PEM", help="private key file")
    serve.add_argument(
        "--insecure-http", action="store_true", help="serve plain HTTP (loopback or behind a proxy)"
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-For is trusted for client addresses (default 127.0.0.1)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=cmd_serve)

    admin = commands.add_parser("admin", help="operators and app keys").add_subparsers(
        dest="admin_command", required=True, metavar="ACTION"
    )
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
    _add_store_flags(create_op)
    create_op.set_defaults(handler=cmd_create_operator)
    create_key = admin.add_parser("create-app-key", help="create a key for the AI app's backend")
    create_key.add_argument("name")
    _add_store_flags(create_key)
    create_key.set_defaults(handler=cmd_create_app_key)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    upgrade = db.add_parser("upgrade", help="apply migrations (needed for PostgreSQL)")
    _add_store_flags(upgrade)
    upgrade.set_defaults(handler=cmd_db_upgrade)

    audit = commands.add_parser("audit", help="audit log tools").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    verify = audit.add_parser("verify", help="walk the hash chain and name the first broken row")
    _add_store_flags(verify)
    verify.set_defaults(handler=cmd_audit_verify)

    bench = commands.add_parser("bench", help="benchmarks that print figures").add_subparsers(
        dest="bench_command", required=True, metavar="BENCH"
    )
    users = bench.add_parser("users", help="user search latency on a large population")
    users.add_argument("--count", type=int, default=1_000_000)
    users.add_argument("--db", metavar="URL", help="database to fill (default: a temporary SQLite)")
    users.set_defaults(handler=cmd_bench_users)
    foundation = bench.add_parser("foundation", help="login and audit-write latency")
    foundation.add_argument("--repeat", type=int, default=200)
    foundation.add_argument("--db", metavar="URL", help="database (default: a temporary SQLite)")
    foundation.set_defaults(handler=cmd_bench_foundation)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every migration step at INFO; operators need only problems.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
