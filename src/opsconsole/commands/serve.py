"""`opsconsole serve`: the control plane, over TLS unless told otherwise, in one or more workers."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import opsconsole
from opsconsole.commands.flags import Subcommands, add_store_flags, settings_from

# The name the serve warnings have always carried in operators' logs.
log = logging.getLogger("opsconsole.cli")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from opsconsole.server import tls
    from opsconsole.server.app import StaleDatabaseError, create_app
    from opsconsole.server.embedded import ControlPlaneServer

    settings = settings_from(args)
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


def add_serve_parser(commands: Subcommands) -> None:
    serve = commands.add_parser("serve", help="run the control plane")
    add_store_flags(serve)
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
