"""Login, tokens, session timeouts, throttling, lockout, TOTP and step-up, over HTTP."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from sqlalchemy import text

from opsconsole.wire.common import Role
from tests.live import DEFAULT_PASSWORD, LiveServer, start_server
from tests.server.problems import assert_problem

pytestmark = pytest.mark.store

MakeServer = Callable[..., LiveServer]


@pytest.fixture
def make_server(db_url: str, tmp_path: Path) -> Iterator[MakeServer]:
    """Start a server with Settings overrides (one per test: they share the database)."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> LiveServer:
            return stack.enter_context(start_server(db_url, tmp_path / "data", **overrides))

        yield make


def login(server: LiveServer, username: str, password: str = DEFAULT_PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return server.client().post(
        "/v1/auth/login", json={"username": username, "password": password, **extra}
    )


def totp_code(server: LiveServer, secret: str, steps: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(server.clock.now(), counter_offset=steps))


def enrol_totp(server: LiveServer, client: httpx.Client) -> str:
    started = client.post("/v1/auth/totp", json={})
    assert started.status_code == 200, started.text
    secret: str = started.json()["secret"]
    confirmed = client.post("/v1/auth/totp", json={"code": totp_code(server, secret)})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["enrolled"] is True
    return secret


# --- tokens and sessions -------------------------------------------------------------------


def test_login_returns_a_new_random_token_that_is_stored_only_hashed(server: LiveServer) -> None:
    server.create_operator("alice")
    first, second = login(server, "alice"), login(server, "alice")
    assert first.status_code == second.status_code == 200
    body = first.json()
    assert set(body) >= {"token", "expires_at", "operator"}
    assert body["operator"]["username"] == "alice"
    tokens = [first.json()["token"], second.json()["token"]]
    assert tokens[0] != tokens[1]
    for token in tokens:
        # At least 128 random bits: the part after the kind prefix is base64url of >= 16 bytes.
        secret = token.split("_", 1)[1]
        assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) >= 16
    with server.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM operator_sessions")).all()
    assert len(rows) == 2
    dump = repr([tuple(row) for row in rows])
    for token in tokens:
        assert token not in dump
        assert token.split("_", 1)[1] not in dump


def test_password_is_hashed_with_argon2id_at_owasp_strength(server: LiveServer) -> None:
    server.create_operator("alice")
    with server.db.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT password_hash FROM operators WHERE username = 'alice'")
        ).scalar_one()
    assert DEFAULT_PASSWORD not in stored
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", stored)
    assert match, stored
    memory, time_cost, lanes = map(int, match.groups())
    assert memory >= 19456 and time_cost >= 2 and lanes >= 1


def test_me_names_the_operator_and_session(server: LiveServer) -> None:
    client = server.operator("alice")
    body = client.get("/v1/auth/me").json()
    assert body["operator"]["username"] == "alice"
    assert body["session"]["current"] is True


def test_logout_kills_the_token(server: LiveServer) -> None:
    client = server.operator("alice")
    assert client.post("/v1/auth/logout").status_code == 204
    assert_problem(client.get("/v1/auth/me"), 401, "session-revoked")


@pytest.mark.parametrize("idle_minutes", [None, 5])
def test_idle_timeout(make_server: MakeServer, idle_minutes: int | None) -> None:
    server = make_server(**({"session_idle_minutes": idle_minutes} if idle_minutes else {}))
    idle = timedelta(minutes=idle_minutes or 30)
    client = server.operator("alice")
    # Activity keeps the session alive for longer than one idle period...
    for _ in range(3):
        server.clock.advance(idle - timedelta(seconds=1))
        assert client.get("/v1/auth/me").status_code == 200
    # ...and one idle period without any ends it.
    server.clock.advance(idle)
    assert_problem(client.get("/v1/auth/me"), 401, "session-expired")


@pytest.mark.parametrize("lifetime_hours", [None, 2])
def test_absolute_lifetime_ends_even_an_active_session(
    make_server: MakeServer, lifetime_hours: int | None
) -> None:
    server = make_server(**({"session_lifetime_hours": lifetime_hours} if lifetime_hours else {}))
    lifetime = timedelta(hours=lifetime_hours or 12)
    server.create_operator("alice")
    started = server.clock.now()
    response = login(server, "alice")
    assert response.status_code == 200
    expires = response.json()["expires_at"]
    assert expires.replace("Z", "+00:00").startswith((started + lifetime).isoformat()[:19])
    client = server.client(response.json()["token"])
    while server.clock.now() + timedelta(minutes=20) < started + lifetime:
        server.clock.advance(timedelta(minutes=20))
        assert client.get("/v1/auth/me").status_code == 200
    server.clock.set(started + lifetime)
    assert_problem(client.get("/v1/auth/me"), 401, "session-expired")


# --- failed logins -------------------------------------------------------------------------


def test_unknown_user_and_wrong_password_get_the_same_answer(server: LiveServer) -> None:
    server.create_operator("alice")
    wrong = login(server, "alice", "not the password")
    unknown = login(server, "mallory", "not the password")
    body = assert_problem(wrong, 401, "bad-credentials")
    assert unknown.status_code == wrong.status_code
    assert unknown.headers["content-type"] == wrong.headers["content-type"]
    assert {k: v for k, v in unknown.json().items() if k != "instance"} == {
        k: v for k, v in body.items() if k != "instance"
    }


def fail(server: LiveServer, username: str, times: int, spacing: timedelta) -> None:
    for _ in range(times):
        assert_problem(login(server, username, "wrong password!"), 401, "bad-credentials")
        server.clock.advance(spacing)


def test_failed_logins_for_a_username_are_throttled(server: LiveServer) -> None:
    server.create_operator("alice")
    threshold = server.settings.throttle_after_failures
    fail(server, "alice", threshold, timedelta(seconds=1))
    # Even the right password waits: the attacker must not learn it was right.
    response = login(server, "alice")
    assert_problem(response, 429, "login-throttled")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= server.settings.throttle_seconds + 1
    server.clock.advance(timedelta(seconds=retry_after))
    assert login(server, "alice").status_code == 200


def test_failed_logins_from_an_address_are_throttled(make_server: MakeServer) -> None:
    server = make_server(address_failures=4)
    server.create_operator("alice")
    for name in ("bob", "carol", "dave", "erin"):
        fail(server, name, 1, timedelta(seconds=1))
    response = login(server, "alice")
    assert_problem(response, 429, "login-throttled")
    assert int(response.headers["retry-after"]) >= 1


def lock(server: LiveServer, username: str, failures: int) -> None:
    spacing = timedelta(seconds=server.settings.throttle_seconds + 1)
    fail(server, username, failures, spacing)


def test_nine_failures_do_not_lock(server: LiveServer) -> None:
    server.create_operator("alice")
    lock(server, "alice", server.settings.lockout_failures - 1)
    assert login(server, "alice").status_code == 200


@pytest.mark.parametrize("unlock", ["window", "admin"])
def test_ten_failures_lock_the_account_until_the_window_passes_or_an_admin_unlocks(
    server: LiveServer, unlock: str
) -> None:
    admin = server.operator("root")
    server.create_operator("alice")
    assert server.settings.lockout_failures == 10
    lock(server, "alice", 10)
    assert_problem(login(server, "alice", "wrong password!"), 423, "account-locked")
    assert_problem(login(server, "alice"), 423, "account-locked")
    if unlock == "window":
        server.clock.advance(timedelta(minutes=server.settings.lockout_window_minutes - 6))
        assert_problem(login(server, "alice"), 423, "account-locked")
        server.clock.advance(timedelta(minutes=6))
    else:
        server.step_up(admin)
        response = admin.patch("/v1/operators/alice", json={"disabled": False})
        assert response.status_code == 200, response.text
    assert login(server, "alice").status_code == 200


# --- TOTP ----------------------------------------------------------------------------------


def test_totp_enrolment_then_login_needs_the_code_once(server: LiveServer) -> None:
    client = server.operator("alice")
    started = client.post("/v1/auth/totp", json={})
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["enrolled"] is False
    secret = body["secret"]
    uri = urlparse(body["provisioning_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [secret]
    assert "alice" in uri.path
    # Not enrolled until a code confirms it: login still works without one.
    assert login(server, "alice").status_code == 200
    wrong = str((int(totp_code(server, secret)) + 1) % 1_000_000).zfill(6)
    assert_problem(client.post("/v1/auth/totp", json={"code": wrong}), 400, "bad-totp")
    code = totp_code(server, secret)
    confirmed = client.post("/v1/auth/totp", json={"code": code})
    assert confirmed.json() == {"enrolled": True, "secret": None, "provisioning_uri": None}
    assert client.get("/v1/auth/me").json()["operator"]["totp_enrolled"] is True

    assert_problem(login(server, "alice"), 401, "totp-required")
    # The code that confirmed enrolment was used already.
    assert_problem(login(server, "alice", totp=code), 401, "bad-totp")
    server.clock.advance(timedelta(seconds=30))
    fresh = totp_code(server, secret)
    assert login(server, "alice", totp=fresh).status_code == 200
    assert_problem(login(server, "alice", totp=fresh), 401, "bad-totp")
    assert_problem(login(server, "alice", "wrong password!", totp=fresh), 401, "bad-credentials")


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_totp_accepts_one_step_of_clock_skew(
    server: LiveServer, steps: int, accepted: bool
) -> None:
    client = server.operator("alice")
    secret = enrol_totp(server, client)
    server.clock.advance(timedelta(minutes=5))
    response = login(server, "alice", totp=totp_code(server, secret, steps))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, 401, "bad-totp")


def test_replacing_totp_needs_step_up(server: LiveServer) -> None:
    client = server.operator("alice")
    secret = enrol_totp(server, client)
    assert_problem(client.post("/v1/auth/totp", json={}), 403, "step-up-required")
    server.clock.advance(timedelta(seconds=30))
    step = client.post("/v1/auth/step-up", json={"totp": totp_code(server, secret)})
    assert step.status_code == 200, step.text
    assert client.post("/v1/auth/totp", json={}).status_code == 200


# --- step-up -------------------------------------------------------------------------------

SENSITIVE = [
    ("PATCH", "/v1/operators/bob", {"role": "viewer"}, 200),
    ("PATCH", "/v1/operators/bob", {"disabled": True}, 200),
    ("POST", "/v1/operators", {"username": "carol", "role": "support", "password": "x" * 16}, 201),
]


@pytest.mark.parametrize(("method", "path", "body", "ok"), SENSITIVE)
def test_sensitive_actions_need_a_recent_step_up(
    server: LiveServer, method: str, path: str, body: dict[str, Any], ok: int
) -> None:
    admin = server.operator("alice")
    server.create_operator("bob", role=Role.SUPPORT)
    assert_problem(admin.request(method, path, json=body), 403, "step-up-required")
    assert_problem(
        admin.post("/v1/auth/step-up", json={"password": "wrong password!"}), 403, "step-up-failed"
    )
    assert_problem(admin.request(method, path, json=body), 403, "step-up-required")
    response = admin.post("/v1/auth/step-up", json={"password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.text
    assert admin.get("/v1/auth/me").json()["step_up_until"] is not None
    server.clock.advance(timedelta(minutes=9))
    assert admin.request(method, path, json=body).status_code == ok
    server.clock.advance(timedelta(minutes=1))
    assert_problem(admin.request(method, path, json=body), 403, "step-up-required")


def test_step_up_with_totp_takes_each_code_once(server: LiveServer) -> None:
    client = server.operator("alice")
    secret = enrol_totp(server, client)
    server.clock.advance(timedelta(seconds=30))
    code = totp_code(server, secret)
    assert client.post("/v1/auth/step-up", json={"totp": code}).status_code == 200
    assert_problem(client.post("/v1/auth/step-up", json={"totp": code}), 403, "step-up-failed")


# --- password change -----------------------------------------------------------------------


def test_password_change_ends_other_sessions_and_is_audited(server: LiveServer) -> None:
    server.create_operator("pat", Role.SUPPORT)
    here = server.client(server.login("pat"))
    elsewhere = server.client(server.login("pat"))
    new = "a much better passphrase"
    wrong = here.post("/v1/auth/password", json={"current_password": "nope", "new_password": new})
    assert_problem(wrong, 403, "wrong-password")
    short = here.post(
        "/v1/auth/password", json={"current_password": DEFAULT_PASSWORD, "new_password": "short"}
    )
    assert_problem(short, 422, "validation-error")
    changed = here.post(
        "/v1/auth/password", json={"current_password": DEFAULT_PASSWORD, "new_password": new}
    )
    assert changed.status_code == 204, changed.text
    assert here.get("/v1/auth/me").status_code == 200, "the session that changed it stays"
    assert_problem(elsewhere.get("/v1/auth/me"), 401, "session-revoked")
    assert login(server, "pat").status_code == 401
    assert login(server, "pat", new).status_code == 200
    admin = server.operator("root", Role.ADMIN)
    rows = admin.get("/v1/audit", params={"action": "auth.password_changed"}).json()["items"]
    assert len(rows) == 1 and rows[0]["after"] == {"other_sessions_ended": 1}
    assert new not in str(rows) and DEFAULT_PASSWORD not in str(rows)


@pytest.mark.parametrize(
    ("path", "wrong", "right", "wrong_kind"),
    [
        (
            "/v1/auth/step-up",
            {"password": "wrong password!"},
            {"password": DEFAULT_PASSWORD},
            "step-up-failed",
        ),
        (
            "/v1/auth/password",
            {"current_password": "wrong password!", "new_password": "a brand new passphrase"},
            {"current_password": DEFAULT_PASSWORD, "new_password": "a brand new passphrase"},
            "wrong-password",
        ),
    ],
)
def test_a_stolen_token_cannot_guess_the_password_faster_than_a_login(
    server: LiveServer, path: str, wrong: dict[str, str], right: dict[str, str], wrong_kind: str
) -> None:
    alice = server.operator("alice")
    for _ in range(server.settings.throttle_after_failures):
        assert_problem(alice.post(path, json=wrong), 403, wrong_kind)
        server.clock.advance(timedelta(seconds=1))
    # The right password waits too, and so does a login with it.
    response = alice.post(path, json=right)
    assert_problem(response, 429, "login-throttled")
    assert_problem(login(server, "alice"), 429, "login-throttled")
    server.clock.advance(timedelta(seconds=int(response.headers["retry-after"])))
    assert alice.post(path, json=right).status_code in (200, 204)
