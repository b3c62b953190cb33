"""Simulated history written into a database: deterministic, realistic, within the gate's rules."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from opsconsole.server import migrate
from opsconsole.server.db import Database
from opsconsole.server.gate.models import DecisionRow, Provider, UsageEvent
from opsconsole.server.users.models import Tier, User
from opsconsole.sim.history import WEEKLY_PROFILE, HistoryConfig, write_history

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def usage_rows(db: Database) -> list[UsageEvent]:
    with db.reading() as session:
        return list(session.scalars(select(UsageEvent).order_by(UsageEvent.decision_id)))


@pytest.mark.store
def test_same_seed_same_history(db: Database, tmp_path_factory: pytest.TempPathFactory) -> None:
    config = HistoryConfig(days=5, users=80, seed=7, end=END)
    first = write_history(db, config)
    other = Database(f"sqlite:///{tmp_path_factory.mktemp('again') / 'again.db'}")
    migrate.upgrade(other.engine)
    try:
        second = write_history(other, config)
        assert first.daily_cost == second.daily_cost
        assert first.decisions == second.decisions > 0
        mine = [(r.decision_id, r.at, r.cost, r.provider) for r in usage_rows(db)]
        theirs = [(r.decision_id, r.at, r.cost, r.provider) for r in usage_rows(other)]
        assert mine == theirs
    finally:
        other.dispose()
    # The result's daily figures are what the database holds, by the report's UTC day.
    by_day: dict[object, float] = defaultdict(float)
    for row in usage_rows(db):
        by_day[row.at.date()] += row.cost
    assert by_day == pytest.approx(first.daily_cost)
    assert first.end == END and first.start == datetime(2026, 2, 24, tzinfo=UTC)
    assert all(row.at < END + timedelta(seconds=15) for row in usage_rows(db))


def test_writing_the_same_seed_twice_is_refused(db: Database) -> None:
    config = HistoryConfig(days=1, users=20, seed=3, end=END)
    write_history(db, config)
    with pytest.raises(ValueError, match="seed 3 is in this database already"):
        write_history(db, config)


def test_history_follows_the_gates_rules_and_prices(db: Database) -> None:
    result = write_history(db, HistoryConfig(days=21, users=300, seed=11, end=END))
    with db.reading() as session:
        tiers = {t.name: t for t in session.scalars(select(Tier))}
        prices = {p.name: p for p in session.scalars(select(Provider))}
        decisions = list(session.scalars(select(DecisionRow)))
        users = {u.pk: u for u in session.scalars(select(User))}
    usage = usage_rows(db)
    assert len(users) == result.users == 300
    assert len(decisions) == result.decisions and len(usage) == result.usage_events
    # Every admitted decision has its usage event, every event an admitted decision.
    admitted = {d.decision_id: d for d in decisions if d.allow}
    assert set(admitted) == {u.decision_id for u in usage}
    # No free user got more than the tier's daily quota; some were refused for it.
    per_day = Counter((d.user_pk, d.at.date()) for d in admitted.values() if d.tier == "free")
    assert max(per_day.values()) == tiers["free"].daily_requests
    assert any(d.reason == "daily_quota" for d in decisions)
    # Each request went to a provider its tier allows; cost is the provider's price list.
    for event in usage:
        assert event.provider in json.loads(tiers[event.tier].providers)
        price = prices[event.provider]
        expected = (
            event.input_tokens * price.price_in_per_1k
            + event.output_tokens * price.price_out_per_1k
        ) / 1000
        assert event.cost == pytest.approx(expected if event.status == "ok" else 0.0)
        assert users[event.user_pk].joined_at < event.decided_at  # no usage before joining
        assert users[event.user_pk].tier == event.tier
    statuses = Counter(event.status for event in usage)
    assert 0 < statuses["error"] + statuses["timeout"] < 0.05 * len(usage)
    # Evening peak: the busiest hours are the gate's peak hours, served by the cheapest.
    hours = Counter(event.decided_at.hour for event in usage)
    assert {hour for hour, _ in hours.most_common(4)} <= {18, 19, 20, 21, 22}
    peak_free = {e.provider for e in usage if e.tier == "free" and 18 <= e.decided_at.hour < 22}
    assert peak_free <= {"fallback"} and peak_free


def test_weekly_rhythm_and_growth(db: Database) -> None:
    result = write_history(db, HistoryConfig(days=56, users=200, seed=5, end=END))
    by_weekday: dict[int, list[int]] = defaultdict(list)
    days = sorted(result.daily_decisions)
    for day in days:
        by_weekday[day.weekday()].append(result.daily_decisions[day])
    mean = {wd: sum(v) / len(v) for wd, v in by_weekday.items()}
    busiest, quietest = max(mean, key=mean.__getitem__), min(mean, key=mean.__getitem__)
    assert WEEKLY_PROFILE[busiest] > 1.0 > WEEKLY_PROFILE[quietest]
    # A fifth of the users join during the history: the last weeks are busier than the first.
    first = sum(result.daily_decisions[d] for d in days[:14])
    last = sum(result.daily_decisions[d] for d in days[-14:])
    assert last > 1.1 * first
