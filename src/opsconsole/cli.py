"""The `opsconsole` command: serve, admin, db, audit and bench subcommands."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
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
        for name in ("db", "data_dir", "host", "port", "tls", "tls_cert", "tls_key", "redis")
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
    from opsconsole.server.embedded import ControlPlaneServer

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
    workers = args.workers
    if workers > 1 and not settings.redis:
        print(
            "error: --workers needs --redis: each worker is its own process, and quotas, "
            "rate limits, breakers and switches must be shared between them",
            file=sys.stderr,
        )
        return 2
    try:
        app: Any = create_app(settings)
    except StaleDatabaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if workers > 1:
        # Each worker builds its own app from the environment (the database is ready now).
        del app
        os.environ.update(_settings_environment(settings))
        app = "opsconsole.server.app:create_app_from_environment"
    else:
        from opsconsole.server.gate.factory import settle_heap

        settle_heap()  # no full garbage collections stalling the gate (see its docstring)
    print(
        f"opsconsole {opsconsole.__version__} serving on {scheme}://{settings.host}:{settings.port}"
        + (f" with {workers} worker processes" if workers > 1 else "")
    )
    print(f"database: {settings.database_url.split('@')[-1]}")
    sys.stdout.flush()
    config = uvicorn.Config(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        server_header=False,
        **ssl,  # type: ignore[arg-type]
    )
    if workers > 1:
        # Workers close their streams with code 1012 (service restart), without a `bye`.
        uvicorn.run(config.app, **_uvicorn_options(config))
    else:
        ControlPlaneServer(config).run()
    return 0


def _uvicorn_options(config: Any) -> dict[str, Any]:
    return {
        "factory": config.factory,
        "workers": config.workers,
        "host": config.host,
        "port": config.port,
        "log_level": config.log_level,
        "proxy_headers": config.proxy_headers,
        "forwarded_allow_ips": config.forwarded_allow_ips,
        "server_header": config.server_header,
        "ssl_certfile": config.ssl_certfile,
        "ssl_keyfile": config.ssl_keyfile,
    }


def _settings_environment(settings: Any) -> dict[str, str]:
    """The resolved settings as OPSCONSOLE_* variables, for worker processes to read back."""
    import json

    values: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        values[f"OPSCONSOLE_{name.upper()}"] = text
    return values


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


def cmd_db_backup(args: argparse.Namespace) -> int:
    from opsconsole.server.backup import BackupError, backup_sqlite

    settings = _settings(args)

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


# --- sim -----------------------------------------------------------------------------------


def cmd_sim(args: argparse.Namespace) -> int:
    import os
    from datetime import datetime

    from opsconsole.sdk import GateClient
    from opsconsole.sim.population import make_population
    from opsconsole.sim.providers import SimulatedProviders
    from opsconsole.sim.traffic import (
        ScheduledOutage,
        TrafficConfig,
        TrafficGenerator,
        follow_server_clock,
        server_clock,
    )

    # One line per HTTP request would bury the summaries.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app_key = args.app_key or os.environ.get("OPSCONSOLE_APP_KEY")
    if not app_key:
        print("error: give --app-key or set OPSCONSOLE_APP_KEY", file=sys.stderr)
        return 2
    try:
        outages = [ScheduledOutage.parse(text) for text in args.outage]
    except ValueError as error:
        print(f"error: --outage {error}", file=sys.stderr)
        return 2
    start = None
    if args.start_hour is not None:
        start = datetime.now().replace(hour=args.start_hour, minute=0, second=0, microsecond=0)
    verify: bool | str = str(args.cacert) if args.cacert else not args.insecure
    # The simulator is a load generator: a slow answer should be waited for and counted,
    # not turned into a fail-open decision after the SDK's default half second.
    client = GateClient(args.server, app_key, timeout=5.0, verify=verify)
    config = TrafficConfig(
        rate=args.rate,
        speedup=args.speedup,
        duration=args.duration,
        workers=args.workers,
        seed=args.seed,
        start=start,
        outages=outages,
    )
    # A demo server's clock may run faster than real time: simulated time follows it.
    config, note = follow_server_clock(config, server_clock(args.server, verify=verify))
    print(note)
    population = make_population(args.users, seed=args.seed)
    generator = TrafficGenerator(client, population, SimulatedProviders(), config)
    try:
        tiers = ", ".join(f"{n} {tier}" for tier, n in population.tier_counts().items())
        if args.no_register:
            print(f"not registering {len(population)} users ({tiers}): --no-register")
        else:
            print(f"registering {len(population)} users ({tiers}) with {args.server} ...")
            sys.stdout.flush()
            registered = generator.register()
            print(
                f"registered {registered.registered} users in {registered.seconds:.1f} s"
                + (f" ({registered.failed} failed)" if registered.failed else "")
            )
            if registered.registered == 0:
                print("error: no user could be registered: check URL and app key", file=sys.stderr)
                return 1
        generator.start()
        try:
            while not generator.join(timeout=args.every):
                print(generator.stats().line(), flush=True)
        except KeyboardInterrupt:
            print("stopping ...", flush=True)
            generator.stop()
            generator.join()
        print("final: " + generator.stats().line())
    finally:
        client.close()
    return 0


# --- console and demo ----------------------------------------------------------------------


def cmd_console(args: argparse.Namespace) -> int:
    from opsconsole.console.profiles import Profile, ProfileError, ProfileStore, default_colour
    from opsconsole.console.settings import ConsoleSettings

    settings = ConsoleSettings()
    store = ProfileStore(settings)
    try:
        if args.url or args.colour or args.impersonation_url is not None:
            if not args.profile:
                print("error: --url and --colour need --profile NAME", file=sys.stderr)
                return 2
            known = store.get(args.profile)
            url = args.url or (known.url if known else "")
            store.save(
                Profile(
                    name=args.profile,
                    url=url,
                    colour=args.colour or (known.colour if known else default_colour(args.profile)),
                    # A new URL is a new server: its certificate must be confirmed afresh.
                    pinned_pem=known.pinned_pem if known and known.url == url else None,
                    username=known.username if known else "",
                    impersonation_url=(
                        args.impersonation_url
                        if args.impersonation_url is not None
                        else (known.impersonation_url if known else "")
                    ),
                )
            )
        profile = store.choose(args.profile)
        if args.forget_certificate:
            store.save(profile.with_pin(None))
            print(f"profile {profile.name}: the pinned certificate is forgotten")
            return 0
    except ProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from opsconsole.console.main import run

    if args.wall_page_s is not None:
        from opsconsole.console.settings import WALL_PAGE_S

        settings.set(WALL_PAGE_S, max(2.0, args.wall_page_s))
    return run(profile, settings=settings, offline=args.offline, wall=args.wall)


def cmd_demo(args: argparse.Namespace) -> int:
    from opsconsole.console import demo

    options = {"users": args.users, "rate": args.rate, "speedup": args.speedup}
    if args.no_gui:
        return demo.run_no_gui(ready_json=args.ready_json, **options)
    return demo.run_gui(**options)


def _add_console_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    console = commands.add_parser("console", help="the desktop console")
    console.add_argument("--profile", metavar="NAME", help="connection profile (default: last)")
    console.add_argument("--url", help="create or change the profile: the server's https:// URL")
    console.add_argument("--colour", help="the profile's colour, e.g. red, #1565c0")
    console.add_argument(
        "--impersonation-url",
        metavar="TEMPLATE",
        help="the app's URL that takes an impersonation token, e.g. "
        "'https://app.example.com/?impersonate={token}' ('' removes it)",
    )
    console.add_argument(
        "--offline", action="store_true", help="open the profile's cache without connecting"
    )
    console.add_argument(
        "--forget-certificate",
        action="store_true",
        help="forget the profile's pinned certificate (the next start asks again)",
    )
    console.add_argument(
        "--wall",
        action="store_true",
        help="full-screen wall display for a TV (no controls, no personal data; log in as a "
        "viewer)",
    )
    console.add_argument(
        "--wall-page-s",
        type=float,
        metavar="SECONDS",
        help="seconds per wall page (kept in the settings; default 20)",
    )
    console.set_defaults(handler=cmd_console)
    demo = commands.add_parser(
        "demo", help="control plane + simulated traffic + the console, on this machine"
    )
    demo.add_argument("--no-gui", action="store_true", help="server and simulator only")
    demo.add_argument("--users", type=int, default=2000, help="simulated users (2000)")
    demo.add_argument("--rate", type=float, default=40.0, help="mean admits per second (40)")
    demo.add_argument(
        "--speedup", type=float, default=288.0, help="simulated seconds per real second (288)"
    )
    demo.add_argument("--ready-json", action="store_true", help=argparse.SUPPRESS)
    demo.set_defaults(handler=cmd_demo)


# --- history -------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    from datetime import date

    from opsconsole.sim.history import HistoryConfig, write_history

    try:
        config = HistoryConfig(days=args.days, users=args.users, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    db, _ = _database(args)

    def progress(day: date, decisions: int) -> None:
        if day.weekday() == 6:  # a line a week
            print(f"  ... {day}: {decisions} decisions that day", flush=True)

    print(f"writing {config.days} days of history for {config.users} users (seed {config.seed})")
    try:
        result = write_history(db, config, progress=progress)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(
        f"wrote {result.users} users, {result.decisions} decisions and {result.usage_events} "
        f"usage events costing ${result.cost:,.2f} from {result.start:%Y-%m-%d} to now "
        f"in {result.seconds:.1f} s; see GET /v1/business and /v1/business/forecast"
    )
    return 0


def _add_history_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = commands.add_parser(
        "history", help="fill a database with simulated days of decisions and usage (demo)"
    )
    _add_store_flags(history)
    history.add_argument("--days", type=int, default=56, help="days up to now (56)")
    history.add_argument("--users", type=int, default=2000, help="population size (2000)")
    history.add_argument("--seed", type=int, default=0, help="the same seed, the same rows (0)")
    history.set_defaults(handler=cmd_history)


# --- parser --------------------------------------------------------------------------------


def _add_sim_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "sim", help="simulated users and providers sending traffic to a control plane"
    )
    sim.add_argument("--server", required=True, metavar="URL", help="the control plane's URL")
    sim.add_argument("--app-key", metavar="KEY", help="the app key (env OPSCONSOLE_APP_KEY)")
    sim.add_argument("--users", type=int, default=12_450, help="population size (12450)")
    sim.add_argument("--rate", type=float, default=20.0, help="mean admits per second (20)")
    sim.add_argument(
        "--speedup", type=float, default=288.0, help="simulated seconds per real second (288)"
    )
    sim.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this long (default: Ctrl-C)"
    )
    sim.add_argument("--seed", type=int, default=0, help="population and traffic seed (0)")
    sim.add_argument("--workers", type=int, default=4, help="concurrent request threads (4)")
    sim.add_argument(
        "--start-hour", type=int, choices=range(24), metavar="H", help="simulated start hour"
    )
    sim.add_argument("--every", type=float, default=5.0, help="seconds between summaries (5)")
    sim.add_argument(
        "--no-register",
        action="store_true",
        help="skip registering the users (a previous run with the same --users/--seed did)",
    )
    trust = sim.add_mutually_exclusive_group()
    trust.add_argument("--cacert", type=Path, metavar="PEM", help="trust this certificate")
    trust.add_argument(
        "--insecure", action="store_true", help="do not verify the server's certificate"
    )
    sim.add_argument(
        "--outage",
        action="append",
        default=[],
        metavar="PROVIDER:START_S:LENGTH_S",
        help="make a provider fail from START_S for LENGTH_S seconds into the run (repeatable)",
    )
    sim.set_defaults(handler=cmd_sim)


def build_parser() -> argparse.ArgumentParser:
    from opsconsole.bench.commands import add_bench_parser

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
        "--redis",
        metavar="URL",
        help="share counters with other replicas through this Redis (env OPSCONSOLE_REDIS); "
        "needs opsconsole[redis]",
    )
    serve.add_argument(
        "--insecure-http", action="store_true", help="serve plain HTTP (loopback or behind a proxy)"
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-For is trusted for client addresses (default 127.0.0.1)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes on this machine (needs --redis: they share counters there)",
    )
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
    backup = db.add_parser("backup", help="copy a live SQLite database to a new file")
    _add_store_flags(backup)
    backup.add_argument("destination", help="the new file to write (must not exist)")
    backup.set_defaults(handler=cmd_db_backup)

    audit = commands.add_parser("audit", help="audit log tools").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    verify = audit.add_parser("verify", help="walk the hash chain and name the first broken row")
    _add_store_flags(verify)
    verify.set_defaults(handler=cmd_audit_verify)

    add_bench_parser(commands)
    _add_sim_parser(commands)
    _add_history_parser(commands)
    _add_console_parsers(commands)
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
