"""The report queue, response triage and batch delivery, without any I/O."""

from __future__ import annotations

import httpx
import pytest

from opsconsole.sdk.batcher import (
    MAX_BATCH,
    Counters,
    Delivery,
    ReportQueue,
    Verdict,
    backoff,
    triage,
)


def queue(**overrides: int | float) -> ReportQueue:
    options: dict[str, int | float] = {"batch_size": 3, "flush_interval": 1.0, "max_buffer": 5}
    options.update(overrides)
    return ReportQueue(counters=Counters(), **options)  # type: ignore[arg-type]


def test_a_batch_is_due_when_full_old_or_flushed() -> None:
    q = queue()
    assert not q.put({"n": 1}, now=0.0)
    assert q.take(now=0.5) == [] and q.wait_time(now=0.5) == 0.5
    first = q.take(now=1.0)
    assert [item.body["n"] for item in first] == [1]
    q.settle(first, sent=1)
    for n in range(2, 5):
        full = q.put({"n": n}, now=2.0)
    assert full and [i.body["n"] for i in q.take(now=2.0)] == [2, 3, 4]
    q.put({"n": 5}, now=3.0)
    assert q.take(now=3.0) == []
    assert q.request_flush() == 5
    assert [i.seq for i in q.take(now=3.0)] == [5] and q.low_water() == 2


def test_low_water_tracks_what_is_still_unsettled() -> None:
    q = queue()
    for n in range(4):
        q.put({"n": n}, now=0.0)
    batch = q.take(now=0.0)
    assert q.low_water() == 1 and q.pending() == 4
    q.settle(batch[:1], dropped=1)
    assert q.low_water() == 2
    q.settle(batch[1:], sent=2)
    assert q.low_water() == 4 and q.pending() == 1
    assert q.drop_all() == 1 and q.low_water() == 5 and q.empty()
    snapshot = q.counters.snapshot(q.pending())
    assert (snapshot["reports_sent"], snapshot["reports_dropped"]) == (2, 2)


def test_overflow_drops_the_oldest() -> None:
    q = queue(max_buffer=3)
    for n in range(5):
        q.put({"n": n}, now=0.0)
    assert [i.body["n"] for i in q.take(now=0.0)] == [2, 3, 4]
    assert q.counters.reports_dropped == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": MAX_BATCH + 1, "max_buffer": 10_000}, "batch_size"),
        ({"flush_interval": 0}, "flush_interval"),
        ({"max_buffer": 2}, "max_buffer"),
    ],
)
def test_settings_are_checked(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        queue(**options)


BAD = "https://opsconsole.dev/problems/bad-report"


@pytest.mark.parametrize(
    ("status", "body", "verdict", "bad"),
    [
        (200, {"accepted": 2}, Verdict.SENT, set()),
        (None, "ConnectError", Verdict.RETRY, set()),
        (503, None, Verdict.RETRY, set()),
        (429, {}, Verdict.RETRY, set()),
        (401, {"detail": "bad key"}, Verdict.FAILED, set()),
        (422, {"type": "https://x/validation-error"}, Verdict.FAILED, set()),
        (422, {"type": BAD, "problems": [{"index": 1}, {"index": 9}]}, Verdict.RESEND, {1}),
        (422, {"type": BAD, "problems": "garbage"}, Verdict.FAILED, set()),
    ],
)
def test_triage(status: int | None, body: object, verdict: Verdict, bad: set[int]) -> None:
    outcome = triage(status, body, batch_len=2)
    assert outcome.verdict is verdict and outcome.bad_indices == bad


def test_backoff_grows_and_is_capped() -> None:
    assert all(0 <= backoff(1) <= 0.1 for _ in range(100))
    assert all(0 <= backoff(40) <= 2.0 for _ in range(100))
    assert max(backoff(6) for _ in range(200)) > 0.5


def test_a_delivery_retries_then_resends_without_the_refused_reports() -> None:
    q = queue()
    for n in range(3):
        q.put({"n": n}, now=0.0)
    delivery = Delivery(q, q.take(now=0.0))
    assert [r["n"] for r in delivery.request().body["reports"]] == [0, 1, 2]
    unreachable = delivery.answered(httpx.ConnectError("refused"))
    assert unreachable is not None and 0 <= unreachable <= 0.1 and not delivery.done
    refused = httpx.Response(422, json={"type": BAD, "problems": [{"index": 1}]})
    assert delivery.answered(refused) is None and not delivery.done
    assert [r["n"] for r in delivery.request().body["reports"]] == [0, 2]
    assert delivery.answered(httpx.Response(200, json={"accepted": 2})) is None
    assert delivery.done and q.empty()
    snapshot = q.counters.snapshot(q.pending())
    assert (snapshot["reports_sent"], snapshot["reports_dropped"]) == (2, 1)
    assert snapshot["report_errors"] == 2


def test_a_delivery_refused_for_good_drops_the_batch() -> None:
    q = queue()
    q.put({"n": 0}, now=0.0)
    delivery = Delivery(q, q.take(now=0.0, force=True))
    assert delivery.answered(httpx.Response(401, json={"detail": "bad key"})) is None
    assert delivery.done and q.empty() and q.counters.reports_dropped == 1
