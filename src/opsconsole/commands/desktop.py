"""`opsconsole console` and `opsconsole demo`: the desktop console, alone or with a local demo."""

from __future__ import annotations

import argparse
import sys

from opsconsole.commands.flags import Subcommands


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


def add_console_parsers(commands: Subcommands) -> None:
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
