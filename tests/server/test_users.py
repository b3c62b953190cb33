"""End users over the HTTP API: registration, search, status, overrides, bulk, GDPR."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from opsconsole.wire.common import Role
from tests.live import LiveServer

pytestmark = pytest.mark.store

REASON = {"reason": "abuse report #42"}
JSON = {"content-type": "application/json"}


@pytest.fixture
def app(server: LiveServer) -> httpx.Client:
    return server.client(server.app_key())


@pytest.fixture
def admin(server: LiveServer) -> httpx.Client:
    return server.operator("root", Role.ADMIN)


def put(app: httpx.Client, user_id: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    response = app.put(f"/v1/users/{user_id}", json=body)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def audit(admin: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    """The audit rows about a user, oldest first."""
    response = admin.get("/v1/audit", params={"target": f"user:{user_id}", "limit": 500})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["detail"]
    return body


def search(client: httpx.Client, **params: Any) -> list[str]:
    """Every id the search returns, walking all pages (asserting no page repeats an id)."""
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/users", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(ids) == len(set(ids)), ids
    return ids


# Registration by the app.


def test_put_creates_then_updates_and_audits(
    server: LiveServer, app: httpx.Client, admin: httpx.Client
) -> None:
    created = put(app, "u-1", email="Ann@Example.com", name="Ann Lee", country="de")
    assert created["tier"] == "free" and created["status"] == "active"
    assert created["country"] == "DE"
    assert created["joined_at"] == created["updated_at"]
    server.clock.advance(timedelta(minutes=5))
    updated = put(app, "u-1", expect=200, email="ann@new.example", tier="premium")
    assert updated["email"] == "ann@new.example"
    assert updated["name"] == "Ann Lee"  # left out: kept
    assert updated["tier"] == "premium"
    assert updated["joined_at"] == created["joined_at"]
    assert updated["updated_at"] != created["updated_at"]
    # search_text follows the change: the old address is gone, the new one found.
    assert search(admin, q="example.com") == []
    assert search(admin, q="NEW.EXAMPLE") == ["u-1"]
    rows = audit(admin, "u-1")
    assert [r["action"] for r in rows] == ["users.create", "users.update"]
    assert {r["actor_type"] for r in rows} == {"app"}
    assert rows[1]["before"] == {"tier": "free"}
    assert rows[1]["after"] == {"tier": "premium", "changed": ["email"]}
    # Personal values never enter the audit log, which outlives an erasure.
    assert "ann@" not in json.dumps(rows).lower()
    # An identical PUT changes nothing and writes no audit row.
    put(app, "u-1", expect=200, email="ann@new.example")
    assert len(audit(admin, "u-1")) == 2


def open_ticket(app: httpx.Client, user_id: str, subject: str, body: str) -> None:
    response = app.post("/v1/tickets", json={"user_id": user_id, "subject": subject, "body": body})
    assert response.status_code == 201, response.text


# Table-driven rather than parametrized: each case would otherwise start its own server.
BAD_PUT_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"email": "a@b.co", "nickname": "x"}, "nickname"),
    ({"email": 5}, "email"),
    ({"email": "not-an-address"}, "email"),
    ({"country": "XX"}, "country"),
    ({"country": "DEU"}, "country"),
    ({"name": "x" * 201}, "name"),
    ({"tier": ""}, "tier"),
]


def test_put_rejects_bad_bodies(app: httpx.Client) -> None:
    for body, field in BAD_PUT_BODIES:
        found = problem(app.put("/v1/users/u-1", json=body), 422)
        assert any(field in error["field"] for error in found["errors"]), (body, found)
    problem(app.put("/v1/users/has%20space", json={}), 422)
    problem(app.put("/v1/users/u-1", content=b"{not json", headers=JSON), 422)
    problem(app.get("/v1/users/u-1"), 403)  # nothing was created either way


def test_put_rejects_unknown_tier_naming_the_known_ones(app: httpx.Client) -> None:
    body = problem(app.put("/v1/users/u-1", json={"tier": "gold"}), 422)
    assert body["type"].endswith("/unknown-tier")
    assert body["known_tiers"] == ["free", "premium", "unlimited"]
    assert "premium" in body["detail"] and "gold" in body["detail"]


def test_app_key_and_operator_token_are_not_interchangeable(
    server: LiveServer, app: httpx.Client, admin: httpx.Client
) -> None:
    problem(admin.put("/v1/users/u-1", json={"email": "a@b.co"}), 403)
    problem(app.get("/v1/users"), 403)
    problem(app.post("/v1/users/u-1/suspend", json=REASON), 403)
    problem(server.client().get("/v1/users"), 401)
    problem(server.client().put("/v1/users/u-1", json={}), 401)


FORBIDDEN: list[tuple[Role, str, str, dict[str, Any] | None]] = [
    (Role.VIEWER, "GET", "/v1/users", None),
    (Role.VIEWER, "GET", "/v1/users/u-1", None),
    (Role.BILLING, "POST", "/v1/users/u-1/suspend", REASON),
    (Role.BILLING, "GET", "/v1/users/u-1/export", None),
    (Role.ONCALL, "GET", "/v1/users/u-1/export", None),
    (Role.ONCALL, "PATCH", "/v1/users/u-1", {"tier": "premium"}),
    (Role.SUPPORT, "DELETE", "/v1/users/u-1", None),
    (Role.BILLING, "POST", "/v1/users/bulk", {"ids": ["u-1"], "action": "suspend", **REASON}),
]


def test_roles_without_the_permission_get_403(
    server: LiveServer, app: httpx.Client, admin: httpx.Client
) -> None:
    put(app, "u-1", email="a@b.co")
    clients = {role: server.operator(f"op-{role}", role) for role in {f[0] for f in FORBIDDEN}}
    for role, method, path, body in FORBIDDEN:
        found = problem(clients[role].request(method, path, json=body), 403)
        assert found["type"].endswith("/forbidden"), (role, method, path)
    # Nothing changed.
    assert admin.get("/v1/users/u-1").json()["status"] == "active"
    assert clients[Role.BILLING].get("/v1/users/u-1").status_code == 200


# Search.

PEOPLE = [
    # id, email, name, tier
    ("acme-0001", "alice.smith@gmail.com", "Alice Smith", "free"),
    ("acme-0002", "bob@Example.org", "Bob O'Jones", "premium"),
    ("acme-0003", "carol@gmail.com", "Carol Alison", "premium"),
    ("x-42", "dave_99@mail.net", "Dave 100% Real", "unlimited"),
    ("x-43", "eve%x@mail.net", 'Eve "OR" NEAR', "free"),
    ("zz-9", "frank@ex.io", "Frank Ali \\o/", "free"),
]


@pytest.fixture
def people(server: LiveServer, app: httpx.Client) -> list[dict[str, Any]]:
    created = []
    for user_id, email, name, tier in PEOPLE:
        created.append(put(app, user_id, email=email, name=name, tier=tier))
        server.clock.advance(timedelta(minutes=1))
    return created


def expected(fragment: str) -> list[str]:
    fragment = fragment.lower()
    return [
        user_id
        for user_id, email, name, _ in PEOPLE
        if fragment in f"{user_id} {email} {name}".lower()
    ]


FRAGMENTS = [
    "acme-000",  # id
    "0003",  # id, exact tail
    "gmail",  # email
    "EXAMPLE.ORG",  # email, case-insensitive
    "alis",  # name
    "ali",  # name and email
    "smith@",  # across the boundary of a word
    "al",  # two characters: the scan path
    "x",  # one character
    "100%",  # LIKE wildcard taken literally
    "_99",  # likewise
    "%",
    '"or"',  # FTS5 syntax taken literally
    'or" near',
    "e*",
    "o'jo",  # SQL quoting
    "\\o",  # the LIKE escape character, scan path
    "li \\o/",  # likewise, index path
    "nobody-has-this",
]


def test_search_finds_fragments_in_id_email_and_name(
    admin: httpx.Client, people: list[dict[str, Any]]
) -> None:
    # The table is live: all but these cases expect a match.
    assert [q for q in FRAGMENTS if not expected(q)] == ["e*", "nobody-has-this"]
    for q in FRAGMENTS:
        assert search(admin, q=q, limit=2) == expected(q), q


def test_search_combines_filters(admin: httpx.Client, people: list[dict[str, Any]]) -> None:
    assert search(admin, tier="premium") == ["acme-0002", "acme-0003"]
    assert search(admin, q="gmail", tier="premium") == ["acme-0003"]
    response = admin.post("/v1/users/acme-0001/suspend", json=REASON)
    assert response.status_code == 200, response.text
    assert search(admin, status="suspended") == ["acme-0001"]
    assert search(admin, q="gmail", status="active") == ["acme-0003"]
    # joined_from is inclusive, joined_to exclusive.
    window = {"joined_from": people[1]["joined_at"], "joined_to": people[3]["joined_at"]}
    assert search(admin, **window) == ["acme-0002", "acme-0003"]
    assert search(admin, q="mail", tier="free", **window) == []
    assert search(admin, q="mail", tier="premium", **window) == ["acme-0003"]


def test_pagination_visits_every_match_once(
    admin: httpx.Client, people: list[dict[str, Any]]
) -> None:
    first = admin.get("/v1/users", params={"limit": 4}).json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    second = admin.get("/v1/users", params={"limit": 4, "cursor": first["next_cursor"]}).json()
    assert second["next_cursor"] is None
    ids = [u["id"] for u in first["items"] + second["items"]]
    assert ids == [p[0] for p in PEOPLE]
    for limit in (1, 2, 5, 6, 500):
        assert search(admin, limit=limit) == ids


BAD_SEARCHES: list[tuple[dict[str, Any], int, str]] = [
    ({"limit": 501}, 422, "validation-error"),
    ({"limit": 0}, 422, "validation-error"),
    ({"limit": "ten"}, 422, "validation-error"),
    ({"cursor": "garbage!"}, 400, "bad-cursor"),
    ({"cursor": "eyJwayI6ImEifQ"}, 400, "bad-cursor"),  # {"pk":"a"}
    ({"cursor": "eyJzZXEiOjF9"}, 400, "bad-cursor"),  # another list's cursor
    ({"status": "deleted"}, 422, "validation-error"),
    ({"tier": "gold"}, 422, "unknown-tier"),
    ({"joined_from": "yesterday"}, 422, "validation-error"),
    ({"joined_from": "2026-01-01T00:00:00"}, 422, "validation-error"),  # no zone
    ({"q": ""}, 422, "validation-error"),
]


def test_search_rejects_bad_parameters(admin: httpx.Client) -> None:
    for params, status, kind in BAD_SEARCHES:
        found = problem(admin.get("/v1/users", params=params), status)
        assert found["type"].endswith("/" + kind), (params, found)


def test_get_user_details_and_unknown_ids(admin: httpx.Client, app: httpx.Client) -> None:
    put(app, "u-1", email="a@b.co", name="A", country="FR")
    body = admin.get("/v1/users/u-1").json()
    assert body["country"] == "FR"
    assert body["overrides"] == {
        "quota_daily_requests": None,
        "budget_weekly": None,
        "budget_monthly": None,
        "rate_per_minute": None,
        "budget_bonus": None,
        "budget_bonus_until": None,
    }
    for method, path, payload in [
        ("GET", "/v1/users/nobody", None),
        ("POST", "/v1/users/nobody/suspend", REASON),
        ("POST", "/v1/users/nobody/activate", REASON),
        ("PATCH", "/v1/users/nobody", {"rate_per_minute": 5}),
        ("GET", "/v1/users/nobody/export", None),
    ]:
        found = problem(admin.request(method, path, json=payload), 404)
        assert "nobody" in found["detail"]


# Status.


def test_suspend_and_activate(server: LiveServer, app: httpx.Client) -> None:
    put(app, "u-1", email="a@b.co")
    support = server.operator("sam", Role.SUPPORT)
    suspended = support.post("/v1/users/u-1/suspend", json=REASON)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["status_reason"] == REASON["reason"]
    # Suspending a suspended user is a successful no-op: no second audit row.
    again = support.post("/v1/users/u-1/suspend", json={"reason": "another reason"})
    assert again.status_code == 200 and again.json()["status_reason"] == REASON["reason"]
    activated = support.post("/v1/users/u-1/activate", json={"reason": "appeal upheld"})
    assert activated.json()["status"] == "active"
    rows = audit(server.operator("auditor", Role.ADMIN), "u-1")
    assert [r["action"] for r in rows] == ["users.create", "users.suspend", "users.activate"]
    assert rows[1]["actor"] == "sam" and rows[1]["actor_type"] == "operator"
    assert rows[1]["before"] == {"status": "active"}
    assert rows[1]["after"] == {"status": "suspended", "reason": REASON["reason"]}


def test_suspend_needs_a_reason(admin: httpx.Client, app: httpx.Client) -> None:
    put(app, "u-1", email="a@b.co")
    for body in [None, {}, {"reason": "no"}, {"reason": 7}, {"reason": "fine reason", "x": 1}]:
        problem(admin.post("/v1/users/u-1/suspend", json=body), 422)
    assert admin.get("/v1/users/u-1").json()["status"] == "active"


# Overrides and tier.


def test_patch_sets_and_clears_overrides(server: LiveServer, app: httpx.Client) -> None:
    put(app, "u-1", email="a@b.co")
    oncall = server.operator("otto", Role.ONCALL)
    until = (server.clock.now() + timedelta(days=3)).isoformat()
    response = oncall.patch(
        "/v1/users/u-1",
        json={
            "quota_daily_requests": 1000,
            "budget_weekly": 12.5,
            "budget_bonus": 20,
            "budget_bonus_until": until,
            "reason": "launch week",
        },
    )
    assert response.status_code == 200, response.text
    overrides = response.json()["overrides"]
    assert overrides["quota_daily_requests"] == 1000 and overrides["budget_weekly"] == 12.5
    assert overrides["budget_bonus"] == 20
    response = oncall.patch("/v1/users/u-1", json={"budget_weekly": None, "budget_bonus": None})
    overrides = response.json()["overrides"]
    assert overrides["budget_weekly"] is None
    assert overrides["budget_bonus"] is None and overrides["budget_bonus_until"] is None
    assert overrides["quota_daily_requests"] == 1000  # not sent: kept
    rows = audit(server.operator("auditor", Role.ADMIN), "u-1")
    assert [r["action"] for r in rows] == ["users.create", "users.overrides", "users.overrides"]
    assert rows[1]["after"]["reason"] == "launch week"
    assert rows[2]["before"]["budget_weekly"] == 12.5 and rows[2]["after"]["budget_weekly"] is None


def test_an_expired_bonus_does_not_block_other_changes(
    server: LiveServer, app: httpx.Client, admin: httpx.Client
) -> None:
    put(app, "u-1", email="a@b.co")
    until = (server.clock.now() + timedelta(minutes=10)).isoformat()
    bonus = {"budget_bonus": 5, "budget_bonus_until": until}
    assert admin.patch("/v1/users/u-1", json=bonus).status_code == 200
    server.clock.advance(timedelta(minutes=15))
    response = admin.patch("/v1/users/u-1", json={"rate_per_minute": 30})
    assert response.status_code == 200, response.text
    # Raising the expired bonus again needs a new expiry.
    found = problem(admin.patch("/v1/users/u-1", json={"budget_bonus": 8}), 422)
    assert found["type"].endswith("/bonus-needs-expiry")
    later = (server.clock.now() + timedelta(days=1)).isoformat()
    response = admin.patch("/v1/users/u-1", json={"budget_bonus_until": later})
    assert response.json()["overrides"]["budget_bonus"] == 5


def test_patch_tier_needs_the_tier_permission(server: LiveServer, app: httpx.Client) -> None:
    put(app, "u-1", email="a@b.co")
    oncall = server.operator("otto", Role.ONCALL)
    denied = problem(oncall.patch("/v1/users/u-1", json={"tier": "premium"}), 403)
    assert "users:tier" in denied["detail"]
    support = server.operator("sam", Role.SUPPORT)
    response = support.patch("/v1/users/u-1", json={"tier": "premium"})
    assert response.status_code == 200 and response.json()["tier"] == "premium"
    unknown = problem(support.patch("/v1/users/u-1", json={"tier": "gold"}), 422)
    assert unknown["known_tiers"] == ["free", "premium", "unlimited"]
    rows = audit(server.operator("auditor", Role.ADMIN), "u-1")
    assert rows[-1]["action"] == "users.tier" and rows[-1]["after"] == {"tier": "premium"}


def test_billing_changes_tiers_but_not_limits(server: LiveServer, app: httpx.Client) -> None:
    put(app, "u-1", email="a@b.co")
    billing = server.operator("bill", Role.BILLING)
    response = billing.patch("/v1/users/u-1", json={"tier": "unlimited"})
    assert response.status_code == 200 and response.json()["tier"] == "unlimited"
    denied = problem(billing.patch("/v1/users/u-1", json={"quota_daily_requests": 5}), 403)
    assert "users:write" in denied["detail"]
    mixed = billing.patch("/v1/users/u-1", json={"tier": "free", "quota_daily_requests": 5})
    assert mixed.status_code == 403
    assert billing.get("/v1/users/u-1").json()["tier"] == "unlimited", "nothing half-applied"


BAD_PATCHES: list[tuple[dict[str, Any], str]] = [
    ({}, "validation-error"),
    ({"reason": "only a reason"}, "validation-error"),
    ({"tier": None}, "validation-error"),
    ({"quota_daily_requests": -1}, "validation-error"),
    ({"rate_per_minute": "many"}, "validation-error"),
    ({"colour": "blue"}, "validation-error"),
    ({"budget_bonus": 10}, "bonus-needs-expiry"),
    ({"budget_bonus": 10, "budget_bonus_until": "2020-01-01T00:00:00Z"}, "bonus-needs-expiry"),
    ({"budget_bonus": 10, "budget_bonus_until": "2030-01-01T00:00:00"}, "validation-error"),
    ({"budget_bonus_until": "2030-01-01T00:00:00Z"}, "expiry-without-bonus"),
]


def test_patch_rejects_bad_bodies(admin: httpx.Client, app: httpx.Client) -> None:
    before = put(app, "u-1", email="a@b.co")
    for body, kind in BAD_PATCHES:
        found = problem(admin.patch("/v1/users/u-1", json=body), 422)
        assert found["type"].endswith("/" + kind), (body, found)
    assert admin.get("/v1/users/u-1").json() == before


# Bulk.


def test_bulk_needs_step_up_and_reports_each_id(server: LiveServer, app: httpx.Client) -> None:
    for user_id in ("b-1", "b-2", "b-3"):
        put(app, user_id, email=f"{user_id}@x.io")
    support = server.operator("sam", Role.SUPPORT)
    assert support.post("/v1/users/b-3/suspend", json=REASON).status_code == 200
    body = {"ids": ["b-1", "b-2", "b-3", "ghost"], "action": "suspend", **REASON}
    refused = problem(support.post("/v1/users/bulk", json=body), 403)
    assert refused["type"].endswith("/step-up-required")
    assert support.get("/v1/users/b-1").json()["status"] == "active"
    server.step_up(support)
    response = support.post("/v1/users/bulk", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "action": "suspend",
        "changed": ["b-1", "b-2"],
        "unchanged": ["b-3"],
        "erased": [],
        "not_found": ["ghost"],
    }
    assert search(support, status="suspended") == ["b-1", "b-2", "b-3"]
    tier = {"ids": ["b-1", "b-2"], "action": "change_tier", "tier": "unlimited", **REASON}
    assert support.post("/v1/users/bulk", json=tier).json()["changed"] == ["b-1", "b-2"]
    rows = audit(server.operator("auditor", Role.ADMIN), "b-1")
    assert [r["action"] for r in rows] == ["users.create", "users.suspend", "users.tier"]
    assert rows[1]["after"]["bulk"] is True and rows[2]["after"]["tier"] == "unlimited"


def test_bulk_tier_change_needs_the_tier_permission(server: LiveServer, app: httpx.Client) -> None:
    put(app, "b-1", email="b@x.io")
    oncall = server.operator("otto", Role.ONCALL)
    server.step_up(oncall)
    body = {"ids": ["b-1"], "action": "change_tier", "tier": "premium", **REASON}
    problem(oncall.post("/v1/users/bulk", json=body), 403)
    assert oncall.get("/v1/users/b-1").json()["tier"] == "free"


BAD_BULKS: list[tuple[dict[str, Any], str]] = [
    ({"ids": [], "action": "suspend", **REASON}, "validation-error"),
    ({"ids": ["a", "a"], "action": "suspend", **REASON}, "validation-error"),
    (
        {"ids": [f"u{i}" for i in range(1001)], "action": "suspend", **REASON},
        "validation-error",
    ),
    ({"ids": ["a"], "action": "delete", **REASON}, "validation-error"),
    ({"ids": ["a"], "action": "suspend"}, "validation-error"),
    ({"ids": ["a"], "action": "change_tier", **REASON}, "validation-error"),
    ({"ids": ["a"], "action": "suspend", "tier": "free", **REASON}, "validation-error"),
    ({"ids": ["a"], "action": "change_tier", "tier": "gold", **REASON}, "unknown-tier"),
]


def test_bulk_rejects_bad_bodies(server: LiveServer, admin: httpx.Client) -> None:
    server.step_up(admin)
    for body, kind in BAD_BULKS:
        found = problem(admin.post("/v1/users/bulk", json=body), 422)
        assert found["type"].endswith("/" + kind), (body, found)


# GDPR.


def test_export_holds_everything_about_the_user(server: LiveServer, app: httpx.Client) -> None:
    put(app, "u-1", email="ann@x.io", name="Ann", country="SE")
    put(app, "u-2", email="bob@x.io")
    open_ticket(app, "u-1", "Refund please", "I was charged twice")
    open_ticket(app, "u-2", "Other person", "not Ann's")
    support = server.operator("sam", Role.SUPPORT)
    support.post("/v1/users/u-1/suspend", json=REASON)
    response = support.get("/v1/users/u-1/export")
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["user"]["email"] == "ann@x.io" and export["user"]["country"] == "SE"
    assert "overrides" in export["user"]
    assert [t["subject"] for t in export["tickets"]] == ["Refund please"]
    assert [m["body"] for m in export["tickets"][0]["messages"]] == ["I was charged twice"]
    assert [r["action"] for r in export["audit"]] == ["users.create", "users.suspend"]
    assert {r["target"] for r in export["audit"]} == {"user:u-1"}
    # Reading someone's personal data is itself recorded, with who did it.
    rows = audit(server.operator("auditor", Role.ADMIN), "u-1")
    assert (rows[-1]["action"], rows[-1]["actor"]) == ("users.export", "sam")


def test_erase_removes_personal_data(
    server: LiveServer, app: httpx.Client, admin: httpx.Client
) -> None:
    put(app, "u-1", email="ann.unique@x.io", name="Annika Zed", country="SE")
    put(app, "u-2", email="bob@x.io", name="Bob")
    open_ticket(app, "u-1", "My address changed", "I now live at 1 Secret Lane")
    refused = problem(admin.delete("/v1/users/u-1"), 403)
    assert refused["type"].endswith("/step-up-required")
    server.step_up(admin)
    response = admin.delete("/v1/users/u-1")
    assert response.status_code == 200, response.text
    erased = response.json()
    new_id = erased["id"]
    assert new_id.startswith("erased-") and len(new_id) > len("erased-") + 8
    assert erased["status"] == "erased"
    assert erased["email"] is None and erased["name"] is None and erased["country"] is None
    # The app's id no longer leads anywhere, and the search finds nothing personal.
    problem(admin.get("/v1/users/u-1"), 404)
    for q in ("ann.unique", "annika", "u-1", "zed"):
        assert search(admin, q=q) == []
    assert search(admin) == [new_id, "u-2"]
    export = admin.get(f"/v1/users/{new_id}/export").json()
    assert export["user"]["status"] == "erased" and export["user"]["email"] is None
    # The customer's words are gone from their tickets; the ticket itself stays linked.
    assert "secret lane" not in json.dumps(export).lower()
    assert [t["user_id"] for t in export["tickets"]] == [new_id]
    # Erased users cannot be changed.
    for method, path, payload in [
        ("POST", f"/v1/users/{new_id}/suspend", REASON),
        ("POST", f"/v1/users/{new_id}/activate", REASON),
        ("PATCH", f"/v1/users/{new_id}", {"rate_per_minute": 1}),
        ("DELETE", f"/v1/users/{new_id}", None),
    ]:
        assert "erased" in problem(admin.request(method, path, json=payload), 409)["detail"]
    bulk = {"ids": [new_id, "u-2"], "action": "suspend", **REASON}
    assert admin.post("/v1/users/bulk", json=bulk).json()["erased"] == [new_id]
    # The audit rows stay, and hold no personal values.
    rows = audit(admin, "u-1")
    assert [r["action"] for r in rows] == ["users.create", "users.erase"]
    assert rows[1]["after"] == {"status": "erased", "tickets_redacted": 1}
    dumped = json.dumps(rows).lower()
    assert "ann.unique" not in dumped and "annika" not in dumped and new_id not in dumped
    # The person signing up again is a new user.
    assert put(app, "u-1", email="ann.unique@x.io")["status"] == "active"
