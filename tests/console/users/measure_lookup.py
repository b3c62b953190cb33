"""Lookup latency as the console shows it: keystroke to results on screen, on many users.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.console.users.measure_lookup [USERS] [DB]

Fills a SQLite store with USERS users (default 1,000,000; `opsconsole bench users`' generator,
kept in DB, default /tmp/opsconsole-lookup/users.db, so a second run reuses it), serves it over
TLS on loopback (in this process: the server competes with the console for the GIL, so the
figures are an upper bound), opens the users pane as an admin and types fragments of real
users' emails, names and ids a character at a time. For each search it reports the time from
the last keystroke to the first page shown: the 200 ms debounce included, and without it.
Not a test: a figure for the README.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from opsconsole.bench import users as bench_users
from opsconsole.bench.stats import summary
from opsconsole.console.cache import Cache
from opsconsole.console.connection import Connection, ConnectionState
from opsconsole.console.panes.base import ServerClock
from opsconsole.console.panes.users import DEBOUNCE_MS, UsersPane
from opsconsole.console.profiles import Profile
from opsconsole.console.qt import QApplication, QEventLoop
from opsconsole.console.tokens import TokenStore
from opsconsole.server import migrate, tls
from opsconsole.server.app import create_app
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth.service import create_operator
from opsconsole.server.clock import SystemClock
from opsconsole.server.db import Database
from opsconsole.server.embedded import serve_in_thread
from opsconsole.server.settings import Settings
from opsconsole.wire.common import Role

PASSWORD = "lookup-password-0123456789"
QUERIES = 40


def prepare(path: Path, count: int) -> Database:
    fresh = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{path}")
    if fresh:
        migrate.upgrade(db.engine)
        bench_users.fill(db, count, random.Random(bench_users.SEED), print)
        with db.writing() as session:
            create_operator(
                session=session,
                username="lookup",
                role=Role.ADMIN,
                password=PASSWORD,
                actor=SYSTEM,
                now=SystemClock().now(),
            )
    return db


async def until(condition: object, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.001)


def main(count: int, path: Path) -> int:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    db = prepare(path, count)
    rng = random.Random(7)
    people = bench_users._sample(db, rng, QUERIES)
    fragments = []
    for user_id, email, name in people:
        fragments.append(("email fragment", email.split("@")[0][2:8]))
        fragments.append(("name fragment", name.split()[-1][:5].lower()))
        fragments.append(("exact id", user_id))
    settings = Settings(data_dir=path.parent, db=f"sqlite:///{path}")
    cert = tls.ensure_self_signed(path.parent / "tls")
    server_app = create_app(settings, db=db)
    with serve_in_thread(
        server_app, ssl_certfile=str(cert.cert_path), ssl_keyfile=str(cert.key_path)
    ) as url:
        profile = Profile(name="lookup", url=url, pinned_pem=cert.cert_path.read_text())
        cache = Cache(path.parent / "console-cache.sqlite")
        connection = Connection(profile, cache=cache, tokens=TokenStore(memory_only=True))
        pane = UsersPane(connection, ServerClock(connection))
        pane.resize(1600, 900)
        pane.show()
        shown: dict[str, list[float]] = {}
        searched: dict[str, list[float]] = {}

        async def scenario() -> None:
            await connection.start()
            await until(lambda: connection.status.state is ConnectionState.SESSION_EXPIRED)
            await connection.login("lookup", PASSWORD)
            await until(lambda: connection.online)
            await pane.load()
            for kind, fragment in fragments:
                pane.search_edit.clear()
                await asyncio.sleep(DEBOUNCE_MS / 1000 * 2)
                await until(lambda: pane._search_task is None or pane._search_task.done())
                typed = 0.0
                for char in fragment:  # typed at 80 ms a key: the debounce holds it back
                    pane.search_edit.insert(char)
                    typed = time.perf_counter()
                    await asyncio.sleep(0.08)
                generation = pane.model.generation + 1
                await until(lambda g=generation: pane.model.generation >= g)
                started = time.perf_counter()
                await until(lambda: pane._search_task is not None and pane._search_task.done())
                done = time.perf_counter()
                assert pane.model.rowCount() > 0, f"nothing found for {fragment!r}"
                shown.setdefault(kind, []).append(done - typed)
                searched.setdefault(kind, []).append(done - started)
            pane.close()
            await connection.close()

        loop.run_until_complete(scenario())
    print(f"\n{count:,} users, {QUERIES} searches of each kind, page size 100, TLS, same process")
    for kind, samples in shown.items():
        print(summary(f"{kind}: keystroke to shown", samples))
        print(summary(f"{kind}: request to shown", searched[kind]))
    every = [s for samples in shown.values() for s in samples]
    print(summary("all: keystroke to shown", every))
    loop.close()
    return 0


if __name__ == "__main__":
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    where = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/opsconsole-lookup/users.db")  # noqa: S108
    sys.exit(main(users, where))
