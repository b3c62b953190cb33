"""`opsconsole sim` and `opsconsole history`: simulated traffic, live or as days of history."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from opsconsole.commands.flags import Subcommands, add_store_flags, prepared_database


def cmd_sim(args: argparse.Namespace) -> int:
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


def cmd_history(args: argparse.Namespace) -> int:
    from datetime import date

    from opsconsole.sim.history import HistoryConfig, write_history

    try:
        config = HistoryConfig(days=args.days, users=args.users, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    db, _ = prepared_database(args)

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


def add_sim_parser(commands: Subcommands) -> None:
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


def add_history_parser(commands: Subcommands) -> None:
    history = commands.add_parser(
        "history", help="fill a database with simulated days of decisions and usage (demo)"
    )
    add_store_flags(history)
    history.add_argument("--days", type=int, default=56, help="days up to now (56)")
    history.add_argument("--users", type=int, default=2000, help="population size (2000)")
    history.add_argument("--seed", type=int, default=0, help="the same seed, the same rows (0)")
    history.set_defaults(handler=cmd_history)
