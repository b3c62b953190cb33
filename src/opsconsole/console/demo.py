"""`opsconsole demo`: a control plane, simulated providers and users, and the console, at once.

The back end (control plane on a temporary SQLite database with a self-signed certificate,
a demo admin, an app key, the simulator sending traffic through the SDK) runs in a child
process, so the simulator's threads and the server never compete with the window for the
interpreter lock, and closing the console stops everything by stopping one process. The
console opens a "demo" profile kept in a temporary directory, with the demo certificate
pinned for that profile only, and logs in as the demo operator.

``--no-gui`` runs the back end alone in this process and prints the URL and credentials.
"""

# Each side imports only what it runs: the back-end child never loads Qt, the console
# process never loads the server.
# ruff: noqa: PLC0415

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("opsconsole.demo")

DEMO_OPERATOR = "demo"
READY_PREFIX = "DEMO-READY "
# The server's clock runs this much faster than real time where the server supports it,
# matching the simulator's speed-up, so that a day passes in a few minutes.


@dataclass(frozen=True)
class DemoInfo:
    url: str
    username: str
    password: str
    fingerprint: str
    cert_pem: str
    data_dir: str


@contextlib.contextmanager
def backend(
    data_dir: Path, *, users: int = 2000, rate: float = 40.0, speedup: float = 288.0
) -> Iterator[DemoInfo]:
    """Control plane + simulator in this process, until the block exits."""
    from opsconsole.sdk import GateClient
    from opsconsole.server import tls
    from opsconsole.server.app import create_app
    from opsconsole.server.audit.service import SYSTEM
    from opsconsole.server.auth import credentials
    from opsconsole.server.auth import service as auth
    from opsconsole.server.embedded import serve_in_thread
    from opsconsole.server.settings import Settings
    from opsconsole.sim.population import make_population
    from opsconsole.sim.providers import SimulatedProviders
    from opsconsole.sim.traffic import TrafficConfig, TrafficGenerator, follow_server_clock
    from opsconsole.wire.common import Role

    settings = Settings(
        data_dir=data_dir,
        port=0,
        gate_auto_register=False,
        clock_speedup=speedup,
        # Sessions, step-up and lockouts are timed on the server's clock too: stretched so
        # that they last as long in real time as they normally do.
        session_idle_minutes=math.ceil(30 * speedup),
        session_lifetime_hours=math.ceil(12 * speedup),
        step_up_minutes=math.ceil(10 * speedup),
        lockout_window_minutes=math.ceil(15 * speedup),
    )
    cert = tls.ensure_self_signed(data_dir)
    app = create_app(settings)
    with serve_in_thread(
        app,
        ssl_certfile=str(cert.cert_path),
        ssl_keyfile=str(cert.key_path),
        # Open console streams must not hold the shutdown for long.
        timeout_graceful_shutdown=2,
    ) as url:
        password = credentials.generate_password()
        clock = app.state.clock
        with app.state.db.writing() as session:
            auth.create_operator(
                session=session,
                username=DEMO_OPERATOR,
                role=Role.ADMIN,
                password=password,
                actor=SYSTEM,
                now=clock.now(),
            )
            _, app_key = auth.create_app_key(
                session=session, name="demo-app", actor=SYSTEM, now=clock.now()
            )
        client = GateClient(url, app_key, timeout=5.0, verify=str(cert.cert_path))
        population = make_population(users, seed=0)
        config, note = follow_server_clock(
            TrafficConfig(rate=rate, speedup=speedup, workers=2, seed=0),
            (clock.now(), speedup),
        )
        log.info("demo: %s", note)
        generator = TrafficGenerator(client, population, SimulatedProviders(), config)

        def register_then_run() -> None:
            # In the background, so the console opens at once and watches the users arrive.
            registered = generator.register(threads=2)
            log.info(
                "demo: %d users registered in %.1f s", registered.registered, registered.seconds
            )
            generator.start()

        starter = threading.Thread(target=register_then_run, name="demo-traffic", daemon=True)
        starter.start()
        try:
            yield DemoInfo(
                url=url,
                username=DEMO_OPERATOR,
                password=password,
                fingerprint=cert.fingerprint,
                cert_pem=cert.cert_path.read_text(),
                data_dir=str(data_dir),
            )
        finally:
            starter.join(timeout=60)
            generator.stop()
            generator.join(timeout=10)
            client.close()


def run_no_gui(*, users: int, rate: float, speedup: float, ready_json: bool = False) -> int:
    """The back end alone until Ctrl+C (or, under the GUI, until stdin closes)."""
    with tempfile.TemporaryDirectory(prefix="opsconsole-demo-") as tmp:
        stop = threading.Event()
        with backend(Path(tmp), users=users, rate=rate, speedup=speedup) as info:
            if ready_json:
                # The console reads this line; stdin closing means the console is gone.
                print(READY_PREFIX + json.dumps(asdict(info)), flush=True)
                threading.Thread(target=_stop_on_eof, args=(sys.stdin, stop), daemon=True).start()
            else:
                print(f"control plane: {info.url}")
                print(f"certificate SHA-256 fingerprint: {info.fingerprint}")
                print(f"operator: {info.username}  password: {info.password}")
                print("open the console on it:")
                print(f"  opsconsole console --profile demo --url {info.url}")
                print("Ctrl+C stops the demo.", flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                print("stopping the demo ...", flush=True)
    return 0


def _stop_on_eof(stream: IO[str], stop: threading.Event) -> None:
    with contextlib.suppress(Exception):
        stream.read()
    stop.set()


def run_gui(*, users: int, rate: float, speedup: float) -> int:
    """Back end in a child process, then the console logged in to it; closing stops both."""
    from opsconsole.console.main import AutoLogin, run
    from opsconsole.console.profiles import Profile, ProfileStore
    from opsconsole.console.settings import ConsoleSettings
    from opsconsole.console.tokens import TokenStore

    command = [
        sys.executable,
        "-m",
        "opsconsole.cli",
        "demo",
        "--no-gui",
        "--ready-json",
        f"--users={users}",
        f"--rate={rate}",
        f"--speedup={speedup}",
    ]
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        info = _wait_ready(child)
        if info is None:
            print("error: the demo back end did not start", file=sys.stderr)
            return 1
        print(f"demo control plane: {info.url} (operator {info.username}, {info.password})")
        with tempfile.TemporaryDirectory(prefix="opsconsole-demo-console-") as home:
            # The demo profile, its pin and its cache live and die with this run.
            settings = ConsoleSettings(Path(home) / "config", Path(home) / "data")
            profile = Profile(
                name="demo",
                url=info.url,
                colour="#6a1b9a",
                pinned_pem=info.cert_pem,
                username=info.username,
            )
            ProfileStore(settings).save(profile)
            return run(
                profile,
                settings=settings,
                auto_login=AutoLogin(info.username, info.password),
                tokens=TokenStore(memory_only=True),
            )
    finally:
        _stop_child(child)


def _wait_ready(child: subprocess.Popen[str]) -> DemoInfo | None:
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(READY_PREFIX):
            data: dict[str, Any] = json.loads(line.removeprefix(READY_PREFIX))
            threading.Thread(target=_drain, args=(child.stdout,), daemon=True).start()
            return DemoInfo(**data)
        sys.stdout.write(line)
    return None


def _drain(stream: IO[str]) -> None:
    for line in stream:
        sys.stdout.write(line)


def _stop_child(child: subprocess.Popen[str]) -> None:
    if child.poll() is not None:
        return
    with contextlib.suppress(OSError):
        assert child.stdin is not None
        child.stdin.close()  # the child's cue to stop cleanly
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
