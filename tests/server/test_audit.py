"""The audit log: a row per change in the same transaction, no secrets, queries, the chain."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from opsconsole.server.audit.models import AuditRow
from opsconsole.server.audit.service import SYSTEM, record, verify_chain
from opsconsole.wire.common import Role
from tests.live import DEFAULT_PASSWORD, LiveServer, start_server
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store

Shared = tuple[LiveServer, httpx.Client]


def audit_rows(server: LiveServer) -> list[dict[str, Any]]:
    columns = [column.name for column in AuditRow.__table__.columns]
    with server.db.reading() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.seq))
        return [{name: getattr(row, name) for name in columns} for row in rows]


def actions(server: LiveServer) -> list[str]:
    return [row["action"] for row in audit_rows(server)]


def full_flow(server: LiveServer) -> dict[str, Any]:
    """Log in, fail, step up, enrol TOTP, manage operators, end sessions; return the secrets."""
    server.create_operator("alice")
    anon = server.client()
    bad = anon.post("/v1/auth/login", json={"username": "alice", "password": "hunter2-wrong"})
    assert bad.status_code == 401
    token = server.login("alice")
    admin = server.client(token)
    assert admin.post("/v1/auth/step-up", json={"password": "hunter2-wrong"}).status_code == 403
    server.step_up(admin)
    secret = admin.post("/v1/auth/totp", json={}).json()["secret"]
    code = pyotp.TOTP(secret).at(server.clock.now())
    assert admin.post("/v1/auth/totp", json={"code": code}).status_code == 200
    bob_password = "bob's very secret password"
    body = {"username": "bob", "role": "support", "password": bob_password}
    assert admin.post("/v1/operators", json=body).status_code == 201
    bob_token = server.login("bob", bob_password)
    assert admin.patch("/v1/operators/bob", json={"role": "billing"}).status_code == 200
    (bob_session,) = [
        s["id"] for s in admin.get("/v1/auth/sessions").json() if s["username"] == "bob"
    ]
    assert admin.delete(f"/v1/auth/sessions/{bob_session}").status_code == 204
    assert admin.patch("/v1/operators/bob", json={"disabled": True}).status_code == 200
    app_key = server.app_key()
    server.clock.advance(timedelta(seconds=30))
    code2 = pyotp.TOTP(secret).at(server.clock.now())
    second = anon.post(
        "/v1/auth/login", json={"username": "alice", "password": DEFAULT_PASSWORD, "totp": code2}
    )
    assert second.status_code == 200
    assert admin.post("/v1/auth/logout").status_code == 204
    return {
        "passwords": [DEFAULT_PASSWORD, bob_password, "hunter2-wrong"],
        "tokens": [token, bob_token, second.json()["token"], app_key],
        "totp_secret": secret,
        "codes": [code, code2],
    }


def test_every_state_change_is_audited_and_no_secret_is_logged(server: LiveServer) -> None:
    secrets = full_flow(server)
    logged = actions(server)
    for action in (
        "operators.create",
        "auth.login_failed",
        "auth.login",
        "auth.step_up_failed",
        "auth.step_up",
        "auth.totp_started",
        "auth.totp_enrolled",
        "operators.update",
        "auth.end_session",
        "app_keys.create",
        "auth.logout",
    ):
        assert action in logged, (action, logged)
    assert logged.count("operators.update") == 2
    assert logged.count("auth.login") == 3
    rows = audit_rows(server)
    everything = json.dumps(rows, default=str)
    for secret in [*secrets["passwords"], *secrets["tokens"], secrets["totp_secret"]]:
        assert secret not in everything
        # Nor the secret part of a prefixed token, nor the token's stored digest.
        assert secret.split("_", 1)[-1] not in everything
    with server.db.engine.connect() as connection:
        digests = connection.execute(text("SELECT token_hash FROM operator_sessions")).scalars()
        for digest in digests:
            assert digest not in everything
    # Six-digit codes could occur by chance inside hex hashes: look only at the content.
    content = json.dumps(
        [{k: v for k, v in row.items() if k not in ("hash", "prev_hash")} for row in rows],
        default=str,
    )
    for code in secrets["codes"]:
        assert code not in content
    update = next(row for row in rows if row["action"] == "operators.update")
    assert json.loads(update["before"])["role"] == "support"
    assert json.loads(update["after"])["role"] == "billing"
    assert update["actor"] == "alice" and update["target"] == "operator:bob"
    assert update["client_addr"] == "127.0.0.1"
    assert verify_on(server)["ok"] is True


def verify_on(server: LiveServer) -> dict[str, Any]:
    with server.db.reading() as session:
        return verify_chain(session=session).model_dump()


FAIL_AUDIT = {
    "sqlite": [
        "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit disk on fire'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION audit_fail() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit disk on fire'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_fail()",
    ],
}


def break_audit(server: LiveServer, backend: str) -> None:
    with server.db.engine.begin() as connection:
        for statement in FAIL_AUDIT[backend]:
            connection.execute(text(statement))


def test_a_change_whose_audit_row_cannot_be_written_is_rolled_back(
    server: LiveServer, backend: str
) -> None:
    admin = server.operator("alice")
    server.create_operator("bob", Role.SUPPORT)
    bob = server.client(server.login("bob"))
    server.step_up(admin)
    before = len(audit_rows(server))
    break_audit(server, backend)

    for response in (
        admin.patch("/v1/operators/bob", json={"role": "admin", "disabled": True}),
        admin.post(
            "/v1/operators", json={"username": "carol", "role": "admin", "password": "p" * 16}
        ),
        admin.post("/v1/auth/totp", json={}),
        server.client().post(
            "/v1/auth/login", json={"username": "bob", "password": DEFAULT_PASSWORD}
        ),
        bob.post("/v1/auth/logout"),
    ):
        assert_problem(response, 500, "internal-error")
    listed = {o["username"]: o for o in admin.get("/v1/operators").json()}
    assert listed["bob"]["role"] == "support" and listed["bob"]["disabled"] is False
    assert "carol" not in listed
    assert bob.get("/v1/auth/me").status_code == 200  # logout did not happen
    with server.db.engine.connect() as connection:
        sessions = connection.execute(text("SELECT count(*) FROM operator_sessions")).scalar()
        pending = connection.execute(
            text("SELECT totp_pending_secret FROM operators WHERE username = 'alice'")
        ).scalar()
    assert sessions == 2  # no session for the failed login
    assert pending is None
    assert len(audit_rows(server)) == before


# --- reading the log -----------------------------------------------------------------------


# Rows are written this far apart: less than the idle timeout, so the admin stays logged in.
STEP = timedelta(minutes=25)


def populate(server: LiveServer) -> httpx.Client:
    """An admin, and a log with rows by several actors at several times."""
    admin = server.operator("alice")
    for index, name in enumerate(["bob", "carol", "dave"]):
        server.clock.advance(STEP)
        server.step_up(admin)
        body = {"username": name, "role": "viewer", "password": "p" * 16 + str(index)}
        assert admin.post("/v1/operators", json=body).status_code == 201
    server.clock.advance(STEP)
    server.operator("erin", Role.ONCALL)
    server.step_up(admin)
    assert admin.patch("/v1/operators/bob", json={"role": "billing"}).status_code == 200
    return admin


@contextmanager
def store_url(backend: str, directory: Path) -> Iterator[str]:
    """A fresh database on the backend (as conftest's `db_url`, but for a module)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'audit.db'}"
        return
    admin_url = os.environ.get("OPSCONSOLE_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("OPSCONSOLE_TEST_POSTGRES_URL is not set: no PostgreSQL to run on")
    name = f"opsconsole_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, httpx.Client]]:
    """One populated server per backend for the tests that only read the log."""
    directory = tmp_path_factory.mktemp("audit")
    with (
        store_url(request.param, directory) as url,
        start_server(url, directory / "server") as server,
    ):
        yield server, populate(server)


def page(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_audit_list_is_newest_first_and_pages_with_a_cursor(shared: Shared) -> None:
    server, logged = shared
    everything = page(logged, limit=500)
    seqs = [item["seq"] for item in everything]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(audit_rows(server))
    walked: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = logged.get("/v1/audit", params=params).json()
        assert len(body["items"]) <= 3
        walked += [item["seq"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert walked == seqs


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "alice", "action": "operators.create"}, ["dave", "carol", "bob"]),
        ({"action": "operators."}, ["bob", "erin", "dave", "carol", "bob", "alice"]),
        ({"target": "operator:bob"}, ["bob", "bob"]),
        ({"actor": "alice", "action": "operators.create", "from": "+2"}, ["dave", "carol"]),
        ({"actor": "alice", "action": "operators.create", "to": "+2"}, ["bob"]),
        ({"actor": "alice", "action": "operators.create", "from": "+2", "to": "+3"}, ["carol"]),
        ({"actor": "nobody"}, []),
    ],
)
def test_audit_filters(shared: Shared, params: dict[str, str], expected: list[str]) -> None:
    server, logged = shared
    start = audit_rows(server)[0]["at"]
    params = dict(params)
    for bound in ("from", "to"):
        if bound in params:
            # Steps after the first row; sent as an ISO 8601 instant.
            params[bound] = (start + int(params[bound]) * STEP).isoformat()
    items = page(logged, **params)
    assert [item["target"].split(":", 1)[1] for item in items] == expected
    for item in items:
        assert item["hash"] and "prev_hash" not in item


def test_audit_time_filter_takes_a_naive_or_zulu_instant(shared: Shared) -> None:
    server, logged = shared
    start = audit_rows(server)[0]["at"].replace(tzinfo=None) + 2 * STEP
    query = {"actor": "alice", "action": "operators.create"}
    zulu = page(logged, **query, **{"from": start.isoformat() + "Z"})
    naive = page(logged, **query, **{"from": start.isoformat()})
    assert naive == zulu and len(zulu) == 2


@pytest.mark.parametrize("cursor", ["garbage", "eyJzZXEiOiJ4In0", "eyJ4IjoxfQ"])
def test_a_cursor_not_issued_by_the_list_is_a_400(shared: Shared, cursor: str) -> None:
    _, logged = shared
    assert_problem(logged.get("/v1/audit", params={"cursor": cursor}), 400, "bad-cursor")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_audit_export(shared: Shared, fmt: str) -> None:
    server, logged = shared
    response = logged.get("/v1/audit/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    assert f'filename="audit.{fmt}"' in response.headers["content-disposition"]
    if fmt == "csv":
        assert response.headers["content-type"].startswith("text/csv")
        records = list(csv.DictReader(io.StringIO(response.text)))
    else:
        records = [json.loads(line) for line in response.text.splitlines()]
    rows = audit_rows(server)
    assert [int(r["seq"]) for r in records] == [row["seq"] for row in rows]
    assert [r["action"] for r in records] == [row["action"] for row in rows]
    assert [r["hash"] for r in records] == [row["hash"] for row in rows]
    update = records[-1]
    after = json.loads(update["after"]) if fmt == "csv" else update["after"]
    assert after == {"disabled": False, "role": "billing"}
    filtered = logged.get(
        "/v1/audit/export", params={"format": fmt, "target": "operator:carol"}
    ).text
    assert "operator:carol" in filtered and "operator:bob" not in filtered


def test_audit_export_rejects_an_unknown_format(shared: Shared) -> None:
    _, logged = shared
    assert_problem(logged.get("/v1/audit/export", params={"format": "xml"}), 422)


# --- the hash chain ------------------------------------------------------------------------

TAMPER = {
    "edited": ["UPDATE audit_log SET target = 'operator:nobody' WHERE seq = 3"],
    "removed": ["DELETE FROM audit_log WHERE seq = 3"],
    "reordered": [
        "UPDATE audit_log SET seq = -1 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = -1",
    ],
}


@pytest.mark.parametrize("kind", [None, *TAMPER])
def test_verify_chain_names_the_first_tampered_row(server: LiveServer, kind: str | None) -> None:
    logged = server.operator("alice")
    with server.db.writing() as session:
        for index in range(8):
            record(
                session=session,
                actor=SYSTEM,
                action="test.row",
                target=f"row:{index}",
                at=server.clock.now(),
                after={"index": index},
            )
    total = len(audit_rows(server))
    assert total >= 8
    if kind is not None:
        with server.db.engine.begin() as connection:
            for statement in TAMPER[kind]:
                connection.execute(text(statement))
    result = verify_on(server)
    api = logged.get("/v1/audit/verify")
    assert api.status_code == 200
    assert api.json() == result
    if kind is None:
        assert result["ok"] is True and result["first_break"] is None
        assert result["rows_checked"] == total and result["head_seq"] == total
        return
    assert result["ok"] is False
    assert result["first_break"]["kind"] == kind
    assert result["first_break"]["seq"] == 3
    assert "3" in result["first_break"]["detail"]


def test_parallel_audited_requests_leave_an_intact_chain_without_gaps(server: LiveServer) -> None:
    server.operator("alice")
    tokens = [server.login("alice") for _ in range(4)]
    before = len(audit_rows(server))

    def start_enrolment(index: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
            return client.post("/v1/auth/totp", json={}, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(start_enrolment, range(20)))
    assert statuses == [200] * 20
    rows = audit_rows(server)
    assert len(rows) == before + 20
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    result = verify_on(server)
    assert result["ok"] is True and result["rows_checked"] == len(rows)
