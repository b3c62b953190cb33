"""`opsconsole bench users`: fill a store with many end users, then time the operator search.

The fill uses Core ``executemany`` in chunks (the ORM would spend minutes building objects);
rows are generated from a fixed seed so two runs search the same data. Each search kind is
timed in process (the service function on a read session) and over HTTP against a real
server on loopback, so the difference is the cost of the API itself.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from opsconsole.bench.stats import summary, timed
from opsconsole.server import migrate
from opsconsole.server.app import create_app
from opsconsole.server.audit.service import SYSTEM
from opsconsole.server.auth.service import create_operator
from opsconsole.server.clock import SystemClock
from opsconsole.server.db import Database
from opsconsole.server.embedded import serve_in_thread
from opsconsole.server.settings import Settings
from opsconsole.server.users import service
from opsconsole.server.users.models import User
from opsconsole.wire.common import Role

SEED = 20261121
CHUNK = 10_000
REPEAT = 50
PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway operator in a temp store

_FIRST = (
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara "
    "richard susan joseph jessica thomas sarah charles karen lukas emma noah mia leon hannah "
    "paul sofia ali fatima mohamed aisha wei li hiroshi yuki sven ingrid pierre camille diego "
    "lucia mateo valentina olga ivan priya arjun chen mei kwame amara oscar elena"
)
_LAST = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson taylor moore jackson martin lee mueller schmidt schneider fischer "
    "weber meyer wagner becker dubois moreau laurent rossi russo ferrari silva santos oliveira "
    "kowalski nowak novak ivanov petrov tanaka suzuki sato kim park nguyen tran singh patel "
    "khan ahmed chen wang zhang okafor mensah"
)
_MORE_COUNTRIES = "CA AU JP ES IT NL SE PL MX NG KE ZA KR CN SG CH AT BE DK NO FI IE PT AR CL"
FIRST, LAST = _FIRST.split(), _LAST.split()
DOMAINS = (
    ["gmail.com"] * 30
    + ["outlook.com"] * 10
    + ["yahoo.com"] * 8
    + ["icloud.com"] * 6
    + ["proton.me", "gmx.de", "web.de", "orange.fr", "mail.ru", "qq.com", "fastmail.com"]
    + ["acme.io", "example.org", "startup.dev", "uni-bonn.de"]
)
COUNTRIES = (
    ["US"] * 25
    + ["DE"] * 8
    + ["GB"] * 8
    + ["IN"] * 8
    + ["FR"] * 5
    + ["BR"] * 5
    + _MORE_COUNTRIES.split()
)
TIERS = ["free"] * 80 + ["premium"] * 17 + ["unlimited"] * 3
STATUSES = ["active"] * 97 + ["suspended"] * 3
HISTORY = timedelta(days=3 * 365)


def _rows(count: int, rng: random.Random, start: datetime) -> Iterator[list[dict[str, Any]]]:
    """Chunks of user rows; ids are UUIDs from the seeded generator (unique in practice)."""
    span = int(HISTORY.total_seconds())
    for offset in range(0, count, CHUNK):
        chunk = []
        for _ in range(min(CHUNK, count - offset)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            email = f"{first}.{last}{rng.randrange(1000)}@{rng.choice(DOMAINS)}"
            name = f"{first.title()} {last.title()}"
            joined = start + timedelta(seconds=rng.randrange(span))
            chunk.append(
                {
                    "id": user_id,
                    "email": email,
                    "name": name,
                    "tier": rng.choice(TIERS),
                    "status": rng.choice(STATUSES),
                    "country": rng.choice(COUNTRIES),
                    "joined_at": joined,
                    "updated_at": joined,
                    "search_text": service.search_text(user_id, email, name),
                }
            )
        yield chunk


@contextmanager
def _fts_paused(db: Database) -> Iterator[None]:
    """On SQLite, load without the per-row FTS trigger and build the index once at the end.

    The trigger's SQL is read back from the schema, so the migration stays its one source.
    """
    if db.dialect != "sqlite":
        yield
        return
    with db.engine.begin() as connection:
        trigger = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'users_search_ai'"
        ).scalar_one()
        connection.exec_driver_sql("DROP TRIGGER users_search_ai")
    try:
        yield
    finally:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO users_search(users_search) VALUES ('rebuild')")
            connection.exec_driver_sql(trigger)


def fill(db: Database, count: int, rng: random.Random, out: Callable[[str], None]) -> None:
    started = time.perf_counter()
    now = datetime.now(UTC)
    done = 0
    with _fts_paused(db):
        for chunk in _rows(count, rng, now - HISTORY):
            # One transaction per chunk: bounded memory, and the WAL stays small.
            with db.engine.begin() as connection:
                connection.execute(insert(User), chunk)
            done += len(chunk)
            if done % (CHUNK * 20) == 0:
                out(f"  {done:>9,} users  {time.perf_counter() - started:6.1f} s")
    elapsed = time.perf_counter() - started
    out(f"filled {count:,} users in {elapsed:.1f} s ({count / max(elapsed, 1e-9):,.0f}/s)")


def _sample(db: Database, rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    """Ids, emails and names of random existing users, to search for."""
    with db.reading() as session:
        top = session.scalar(select(func.max(User.pk))) or 0
        pks = [rng.randint(1, top) for _ in range(n)]
        rows = session.execute(select(User.id, User.email, User.name).where(User.pk.in_(pks)))
        return [(r.id, r.email or "", r.name or "") for r in rows]


def _fragment(rng: random.Random, text: str, size: int) -> str:
    begin = rng.randrange(max(1, len(text) - size + 1))
    return text[begin : begin + size]


def _queries(
    rng: random.Random, people: list[tuple[str, str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """Query parameters per kind of search, ``REPEAT`` of each."""
    picks = [rng.choice(people) for _ in range(REPEAT)]
    window_start = datetime.now(UTC) - HISTORY
    windows = []
    for _ in range(REPEAT):
        begin = window_start + timedelta(days=rng.randrange(3 * 365 - 30))
        windows.append({"joined_from": begin, "joined_to": begin + timedelta(days=30)})
    return {
        "exact id": [{"q": p[0]} for p in picks],
        "email fragment (5 chars)": [{"q": _fragment(rng, p[1].split("@")[0], 5)} for p in picks],
        "name fragment (4 chars)": [{"q": _fragment(rng, p[2], 4)} for p in picks],
        "2-char fragment": [{"q": _fragment(rng, p[2], 2)} for p in picks],
        "tier + status, no q": [
            {"tier": rng.choice(["premium", "unlimited"]), "status": "suspended"} for _ in picks
        ],
        "joined range (30 days)": windows,
        "second page (email fragment)": [
            {"q": _fragment(rng, p[1].split("@")[0], 4), "page": 2} for p in picks
        ],
    }


def _in_process(db: Database, params: dict[str, Any]) -> Callable[[], object]:
    def search() -> object:
        with db.reading() as session:
            filters = service.UserFilter(
                q=params.get("q"),
                tier=params.get("tier"),
                status=params.get("status"),
                joined_from=params.get("joined_from"),
                joined_to=params.get("joined_to"),
            )
            cursor = params.get("cursor")
            return service.search_users(session=session, filters=filters, cursor=cursor, limit=50)

    return search


def _over_http(client: httpx.Client, params: dict[str, Any]) -> Callable[[], object]:
    query = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}

    def search() -> object:
        response = client.get("/v1/users", params=query)
        response.raise_for_status()
        return response

    return search


def _second_pages(db: Database, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Swap 'page: 2' for the cursor the first page hands out (not timed)."""
    resolved = []
    for case in cases:
        params = {k: v for k, v in case.items() if k != "page"}
        if case.get("page") == 2:
            with db.reading() as session:
                _, cursor = service.search_users(
                    session=session,
                    filters=service.UserFilter(q=params["q"]),
                    cursor=None,
                    limit=50,
                )
            params["cursor"] = cursor
        resolved.append(params)
    return resolved


def _time_each(
    make: Callable[[dict[str, Any]], Callable[[], object]], cases: list[dict[str, Any]]
) -> list[float]:
    samples: list[float] = []
    for params in cases:
        samples.extend(timed(make(params), 1))
    return samples


def run(*, count: int, db_url: str | None, out: Callable[[str], None]) -> None:
    """Fill a store with ``count`` users and print search latencies (temp SQLite by default)."""
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-users-") as tmp:
        url = db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        if db.dialect != "sqlite":
            migrate.upgrade(db.engine)
        app = create_app(Settings(data_dir=Path(tmp), db=url, insecure_http=True), db=db)
        out(f"store: {url.split('@')[-1]}")
        rng = random.Random(SEED)
        fill(db, count, rng, out)
        if db.dialect == "postgresql":
            # Steady state: statistics, and the GIN index's pending list merged.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE users")
        with db.writing() as session:
            create_operator(
                session=session,
                username="bench-admin",
                role=Role.ADMIN,
                password=PASSWORD,
                actor=SYSTEM,
                now=SystemClock().now(),
            )
        queries = {
            kind: _second_pages(db, cases)
            for kind, cases in _queries(rng, _sample(db, rng, 200)).items()
        }
        out("")
        out(f"search latency over {REPEAT} queries each, page size 50")
        for kind, cases in queries.items():
            out(summary(f"{kind}, in process", _time_each(lambda p: _in_process(db, p), cases)))
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            login = {"username": "bench-admin", "password": PASSWORD}
            token = client.post("/v1/auth/login", json=login).raise_for_status().json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            for kind, cases in queries.items():
                samples = _time_each(lambda p: _over_http(client, p), cases)
                out(summary(f"{kind}, HTTP", samples))
        db.dispose()
