"""What operators do with alerts: acknowledge, silence, read the history; inhibition; who may
do what; rule changes audited."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from opsconsole.wire.alerts import Alert
from opsconsole.wire.common import Role
from tests.live import LiveServer
from tests.server.alerts.helpers import (
    alerts,
    at,
    audit,
    evaluate,
    later,
    put_rule,
    register,
    state_of,
    the_alert,
    traffic,
)

pytestmark = pytest.mark.store


def trip(oncall: httpx.Client, provider: str, action: str = "trip") -> None:
    response = oncall.post(
        f"/v1/providers/{provider}/breaker", json={"action": action, "reason": "vendor outage"}
    )
    assert response.status_code == 200, response.text


def firing_provider_down(server: LiveServer, oncall: httpx.Client, provider: str) -> int:
    trip(oncall, provider)
    evaluate(server)
    later(server, seconds=60)
    evaluate(server)
    alert = the_alert(oncall, "provider_down", provider)
    assert alert["state"] == "firing"
    return int(alert["id"])


def test_acknowledge_a_firing_alert(server: LiveServer, oncall: httpx.Client) -> None:
    heard: list[Alert] = []
    server.app.state.alerts.on_event(heard.append)
    trip(oncall, "gpt-4o")
    evaluate(server)
    pending = the_alert(oncall, "provider_down", "gpt-4o")
    response = oncall.post(f"/v1/alerts/{pending['id']}/ack", json={"comment": "looking"})
    assert response.status_code == 409, response.text  # only a firing alert
    later(server, seconds=60)
    evaluate(server)
    alert_id = the_alert(oncall, "provider_down", "gpt-4o")["id"]
    later(server, seconds=30)
    response = oncall.post(f"/v1/alerts/{alert_id}/ack", json={"comment": "vendor paged"})
    assert response.status_code == 200, response.text
    acked = oncall.get(f"/v1/alerts/{alert_id}").json()
    assert acked["acknowledged_by"] == "olga" and acked["ack_comment"] == "vendor paged"
    assert at(acked["acknowledged_at"]) == server.clock.now()
    assert acked["state"] == "firing"  # an ack does not make the problem go away
    response = oncall.post(f"/v1/alerts/{alert_id}/ack", json={"comment": "me too"})
    assert response.status_code == 409 and "olga" in response.json()["detail"]
    [entry] = audit(oncall, action="alerts.ack")
    assert entry["actor"] == "olga" and entry["target"] == f"alert:{alert_id}"
    assert entry["after"]["comment"] == "vendor paged"
    assert [(a.id, a.state.value) for a in heard] == [
        (pending["id"], "pending"),
        (alert_id, "firing"),
        (alert_id, "firing"),  # the ack
    ]
    assert heard[-1].acknowledged_by == "olga"
    # Still visible once resolved.
    trip(oncall, "gpt-4o", "reset")
    evaluate(server)
    resolved = oncall.get(f"/v1/alerts/{alert_id}").json()
    assert resolved["state"] == "resolved" and resolved["acknowledged_by"] == "olga"


def test_viewer_reads_alerts_but_cannot_act(server: LiveServer, oncall: httpx.Client) -> None:
    alert_id = firing_provider_down(server, oncall, "gpt-4o")
    viewer = server.operator("wally", Role.VIEWER)
    server.step_up(viewer)
    assert viewer.get("/v1/alerts").json()["items"][0]["id"] == alert_id
    assert viewer.get("/v1/alert-rules").status_code == 200
    assert viewer.get("/v1/silences").status_code == 200
    response = viewer.post(f"/v1/alerts/{alert_id}/ack", json={"comment": "mine"})
    assert response.status_code == 403, response.text
    until = (server.clock.now() + timedelta(hours=1)).isoformat()
    response = viewer.post(
        "/v1/silences", json={"rule": "provider_down", "until": until, "reason": "noise"}
    )
    assert response.status_code == 403
    assert viewer.put("/v1/alert-rules/error_rate", json={"threshold": 9}).status_code == 403
    assert oncall.get(f"/v1/alerts/{alert_id}").json()["acknowledged_by"] is None


def test_viewer_does_not_see_who_the_heavy_user_is(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client
) -> None:
    put_rule(oncall, "heavy_user", floor=0.1, for_s=0)
    register(app, "whale-4711")
    traffic(app, "whale-4711", 1, cost=1.0)
    evaluate(server)
    assert the_alert(oncall, "heavy_user", "whale-4711")["state"] == "firing"
    viewer = server.operator("wally", Role.VIEWER)
    [seen] = alerts(viewer, rule="heavy_user")
    assert "whale" not in str(seen)


def test_silence_a_rule_then_end_it(
    server: LiveServer, oncall: httpx.Client, webhook: list[dict[str, object]]
) -> None:
    until = server.clock.now() + timedelta(hours=2)
    response = oncall.post(
        "/v1/silences",
        json={"rule": "provider_down", "until": until.isoformat(), "reason": "planned work"},
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert silence["created_by"] == "olga" and silence["active"] is True
    rules = {r["name"]: r for r in oncall.get("/v1/alert-rules").json()}
    assert at(rules["provider_down"]["silenced_until"]) == until
    firing_provider_down(server, oncall, "gpt-4o")
    alert = the_alert(oncall, "provider_down", "gpt-4o")
    assert alert["labels"]["silenced_by"]["silence"] == silence["id"]
    server.app.state.alerts.notifier.flush()
    assert webhook == []  # silenced: no page
    response = oncall.delete(f"/v1/silences/{silence['id']}")
    assert response.status_code == 204, response.text
    assert oncall.get("/v1/silences").json() == []
    ended = oncall.get("/v1/silences", params={"include_ended": True}).json()
    assert ended[0]["ended_by"] == "olga" and ended[0]["active"] is False
    evaluate(server)
    alert = the_alert(oncall, "provider_down", "gpt-4o")
    assert "silenced_by" not in alert["labels"]
    server.app.state.alerts.notifier.flush()
    assert [m["event"] for m in webhook] == ["firing"]  # paged once it is no longer silenced
    actions = [e["action"] for e in audit(oncall, target=f"silence:{silence['id']}")]
    assert actions == ["alerts.unsilence", "alerts.silence"]


def test_silence_a_provider_until_a_time(server: LiveServer, oncall: httpx.Client) -> None:
    until = server.clock.now() + timedelta(minutes=5)
    response = oncall.post(
        "/v1/silences",
        json={"provider": "gpt-4o", "until": until.isoformat(), "reason": "vendor maintenance"},
    )
    assert response.status_code == 201, response.text
    trip(oncall, "gpt-4o")
    trip(oncall, "gemini-pro")
    evaluate(server)
    assert "silenced_by" in the_alert(oncall, "provider_down", "gpt-4o")["labels"]
    assert "silenced_by" not in the_alert(oncall, "provider_down", "gemini-pro")["labels"]
    server.clock.set(until)  # the silence ends by itself
    evaluate(server)
    assert "silenced_by" not in the_alert(oncall, "provider_down", "gpt-4o")["labels"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"rule": "nope", "reason": "noise"}, "no rule"),
        ({"provider": "nope", "reason": "noise"}, "no provider"),
        ({"reason": "noise"}, "name a rule"),
        ({"rule": "provider_down", "reason": "noise", "past": True}, "not in the future"),
    ],
)
def test_bad_silences_are_refused(
    server: LiveServer, oncall: httpx.Client, body: dict[str, object], why: str
) -> None:
    body = dict(body)  # the parameters are shared by every backend's run
    delta = timedelta(hours=-1) if body.pop("past", False) else timedelta(hours=1)
    body["until"] = (server.clock.now() + delta).isoformat()
    response = oncall.post("/v1/silences", json=body)
    assert response.status_code in (400, 422) and why in response.text, response.text
    assert oncall.get("/v1/silences", params={"include_ended": True}).json() == []


def test_down_provider_inhibits_its_error_and_latency_alerts(
    server: LiveServer, app: httpx.Client, oncall: httpx.Client, webhook: list[dict[str, object]]
) -> None:
    response = oncall.patch(
        "/v1/providers/gpt-4o", json={"breaker_settings": {"error_rate": 1.0, "timeout_rate": 1.0}}
    )
    assert response.status_code == 200, response.text
    register(app, "ann")
    traffic(app, "ann", 20, status="error", latency_ms=6000.0)
    trip(oncall, "gpt-4o")
    put_rule(oncall, "error_rate", for_s=0)
    put_rule(oncall, "latency_p95", for_s=0)
    later(server, seconds=1)
    evaluate(server)
    for rule in ("error_rate", "latency_p95"):
        alert = the_alert(oncall, rule, "gpt-4o")
        assert alert["state"] == "firing"
        assert alert["labels"]["inhibited_by"].startswith("provider gpt-4o is down")
        # The total is not one provider's outage: not inhibited.
        assert "inhibited_by" not in the_alert(oncall, rule, "total")["labels"]
    server.app.state.alerts.notifier.flush()
    paged = sorted((m["alert"]["rule"], m["alert"]["subject"]) for m in webhook)  # type: ignore[index]
    assert paged == [("error_rate", "total"), ("latency_p95", "total")]


def test_history_query_and_pagination(server: LiveServer, oncall: httpx.Client) -> None:
    for provider in ("gpt-4o", "gemini-pro", "perplexity-large"):
        trip(oncall, provider)
    evaluate(server)
    start = server.clock.now()
    later(server, minutes=1)
    evaluate(server)
    trip(oncall, "gpt-4o", "reset")
    later(server, minutes=1)
    evaluate(server)
    assert [a["subject"] for a in alerts(oncall, state="resolved")] == ["gpt-4o"]
    assert len(alerts(oncall, state="firing", rule="provider_down")) == 2
    assert alerts(oncall, rule="error_rate") == []
    # Newest first, one per page, every alert once.
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = oncall.get("/v1/alerts", params=params).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == 3
    # `since`: alerts still open at or after that time.
    later(server, hours=1)
    after = (server.clock.now() - timedelta(minutes=1)).isoformat()
    assert {a["subject"] for a in alerts(oncall, since=after)} == {"gemini-pro", "perplexity-large"}
    assert len(alerts(oncall, since=start.isoformat())) == 3
    response = oncall.get("/v1/alerts", params={"cursor": "bogus"})
    assert response.status_code == 400
    response = oncall.get("/v1/alerts", params={"state": "sleeping"})
    assert response.status_code == 422


def test_rule_update_is_audited_and_checked(server: LiveServer, oncall: httpx.Client) -> None:
    updated = put_rule(oncall, "error_rate", threshold=10, for_s=120)
    assert updated["threshold"] == 10 and updated["for_s"] == 120
    assert updated["updated_by"] == "olga"
    [entry] = audit(oncall, action="alerts.rule_update")
    assert entry["target"] == "alert_rule:error_rate"
    assert entry["before"] == {"threshold": 5.0, "for_s": 60}
    assert entry["after"] == {"threshold": 10.0, "for_s": 120}
    for body, status in [
        ({"automation": "pause_non_premium"}, 400),  # not an error-rate automation
        ({"threshold": -1}, 422),
        ({"colour": "red"}, 422),
        ({}, 400),
    ]:
        response = oncall.put("/v1/alert-rules/error_rate", json=body)
        assert response.status_code == status, response.text
    assert oncall.put("/v1/alert-rules/nope", json={"threshold": 1}).status_code == 404
    rules = {r["name"]: r for r in oncall.get("/v1/alert-rules").json()}
    assert rules["error_rate"]["threshold"] == 10 and rules["error_rate"]["automation"] == "none"
    assert len(audit(oncall, action="alerts.rule_update")) == 1


def test_disabling_a_rule_resolves_its_alerts(server: LiveServer, oncall: httpx.Client) -> None:
    firing_provider_down(server, oncall, "gpt-4o")
    put_rule(oncall, "provider_down", enabled=False)
    evaluate(server)
    assert state_of(oncall, "provider_down", "gpt-4o") == "resolved"
