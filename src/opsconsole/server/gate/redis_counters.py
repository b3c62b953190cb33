"""The gate's counters in Redis: one Lua script call per decision, one truth for all replicas.

Same numbers and the same order of checks as `MemoryCounters`; a script runs atomically in
Redis, so two replicas can never both admit the last request of a quota.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from opsconsole.server.gate import windows
from opsconsole.server.gate.counters import (
    DECISION_TTL,
    UNKNOWN_DECISION,
    Admission,
    Limits,
)
from opsconsole.server.gate.state import PendingDecision
from opsconsole.wire.gate import DenyReason

DAY_TTL_S = 2 * 86400
PERIOD_TTL_S = 40 * 86400
MINUTE_TTL_S = 180

REASONS = [
    DenyReason.OK,
    DenyReason.GLOBAL_BUDGET_CAP,
    DenyReason.WEEKLY_BUDGET,
    DenyReason.MONTHLY_BUDGET,
    DenyReason.DAILY_QUOTA,
    DenyReason.USER_RATE_LIMITED,
    DenyReason.GLOBAL_RATE_LIMITED,
]

# KEYS: requests today, spend week, spend month, global spend day, global spend week,
#       user minute prev, user minute cur, global minute prev, global minute cur
# ARGV: daily (-1: none), weekly budget, monthly budget, user rpm, global rpm (-1: none),
#       day cap (-1: none), week cap (-1: none), elapsed fraction of the minute, count (0/1),
#       day ttl, minute ttl, then optionally the open decision (key, JSON, ttl) to keep
ADMIT = """
local requests = tonumber(redis.call('GET', KEYS[1]) or '0')
local spent_w = tonumber(redis.call('GET', KEYS[2]) or '0')
local spent_m = tonumber(redis.call('GET', KEYS[3]) or '0')
local global_d = tonumber(redis.call('GET', KEYS[4]) or '0')
local global_w = tonumber(redis.call('GET', KEYS[5]) or '0')
local user_prev = tonumber(redis.call('GET', KEYS[6]) or '0')
local user_cur = tonumber(redis.call('GET', KEYS[7]) or '0')
local all_prev = tonumber(redis.call('GET', KEYS[8]) or '0')
local all_cur = tonumber(redis.call('GET', KEYS[9]) or '0')
local daily, weekly, monthly = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local user_rpm, global_rpm = tonumber(ARGV[4]), tonumber(ARGV[5])
local day_cap, week_cap = tonumber(ARGV[6]), tonumber(ARGV[7])
local elapsed = tonumber(ARGV[8])
local reason = 0
if (day_cap >= 0 and global_d >= day_cap) or (week_cap >= 0 and global_w >= week_cap) then
  reason = 1
elseif spent_w >= weekly then
  reason = 2
elseif spent_m >= monthly then
  reason = 3
elseif daily >= 0 and requests >= daily then
  reason = 4
elseif user_prev * (1 - elapsed) + user_cur >= user_rpm then
  reason = 5
elseif global_rpm >= 0 and all_prev * (1 - elapsed) + all_cur >= global_rpm then
  reason = 6
end
if reason == 0 and ARGV[9] == '1' then
  requests = redis.call('INCR', KEYS[1])
  if requests == 1 then redis.call('EXPIRE', KEYS[1], ARGV[10]) end
  user_cur = redis.call('INCR', KEYS[7])
  if user_cur == 1 then redis.call('EXPIRE', KEYS[7], ARGV[11]) end
  all_cur = redis.call('INCR', KEYS[9])
  if all_cur == 1 then redis.call('EXPIRE', KEYS[9], ARGV[11]) end
  if ARGV[12] then redis.call('SET', ARGV[12], ARGV[13], 'EX', ARGV[14]) end
end
return {reason, requests, tostring(spent_w), tostring(spent_m), tostring(global_d),
        tostring(global_w), user_prev, user_cur, all_prev, all_cur}
"""


# KEYS: open decisions; ARGV: the provider each report names. All are closed, or none:
# returns a list of "ok" or a reason per decision, plus the stored JSON of each.
TAKE = """
local results, values, ok = {}, {}, true
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  values[i] = value or ''
  if not value then
    results[i] = 'unknown'
    ok = false
  else
    local provider = cjson.decode(value)['provider']
    if provider ~= ARGV[i] then
      results[i] = 'provider:' .. provider
      ok = false
    else
      results[i] = 'ok'
    end
  end
end
if ok then redis.call('DEL', unpack(KEYS)) end
return {results, values}
"""


def _dump(decision: PendingDecision) -> str:
    return json.dumps({**asdict(decision), "at": decision.at.isoformat()})


def _load(raw: bytes | str) -> PendingDecision:
    data = json.loads(raw)
    data["at"] = datetime.fromisoformat(data["at"])
    return PendingDecision(**data)


class RedisCounters:
    def __init__(self, client: Any, prefix: str = "opsconsole:") -> None:
        self.redis = client
        self.prefix = prefix
        self._admit = client.register_script(ADMIT)
        self._take = client.register_script(TAKE)

    def _keys(self, user: str, now: datetime) -> list[str]:
        p, minute = self.prefix, int(now.timestamp()) // 60
        day, week, month = windows.day_key(now), windows.week_key(now), windows.month_key(now)
        return [
            f"{p}req:{user}:{day}",
            f"{p}spend:{user}:{week}",
            f"{p}spend:{user}:{month}",
            f"{p}gspend:{day}",
            f"{p}gspend:{week}",
            f"{p}rpm:{user}:{minute - 1}",
            f"{p}rpm:{user}:{minute}",
            f"{p}rpm:*:{minute - 1}",
            f"{p}rpm:*:{minute}",
        ]

    def admit(
        self,
        user: str,
        limits: Limits,
        now: datetime,
        *,
        count: bool,
        pending: PendingDecision | None = None,
    ) -> Admission:
        now_s = now.timestamp()
        keep: list[str | int] = []
        if pending is not None:
            ttl = int(DECISION_TTL.total_seconds())
            keep = [f"{self.prefix}decision:{pending.id}", _dump(pending), ttl]

        def num(value: float | None) -> float:
            return -1 if value is None else value

        result = self._admit(
            keys=self._keys(user, now),
            args=[
                num(limits.daily_requests),
                limits.weekly_budget,
                limits.monthly_budget,
                limits.user_rpm,
                num(limits.global_rpm),
                num(limits.global_day_cap),
                num(limits.global_week_cap),
                (now_s % 60) / 60,
                "1" if count else "0",
                DAY_TTL_S,
                MINUTE_TTL_S,
                *keep,
            ],
        )
        reason = REASONS[int(result[0])]
        retry = None
        user_prev, user_cur, all_prev, all_cur = (int(v) for v in result[6:10])
        if reason is DenyReason.USER_RATE_LIMITED:
            retry = windows.retry_after(user_prev, user_cur, limits.user_rpm, now_s)
        elif reason is DenyReason.GLOBAL_RATE_LIMITED and limits.global_rpm is not None:
            retry = windows.retry_after(all_prev, all_cur, limits.global_rpm, now_s)
        return Admission(
            reason=reason,
            retry_after_s=retry,
            requests_today=int(result[1]),
            spent_week=float(result[2]),
            spent_month=float(result[3]),
            global_spent_day=float(result[4]),
            global_spent_week=float(result[5]),
        )

    def take_pending(
        self, reports: Sequence[tuple[str, str]], now: datetime
    ) -> list[PendingDecision | str]:
        keys = [f"{self.prefix}decision:{decision_id}" for decision_id, _ in reports]
        results, values = self._take(keys=keys, args=[provider for _, provider in reports])
        found: list[PendingDecision | str] = []
        for result, value in zip(results, values, strict=True):
            verdict = result.decode() if isinstance(result, bytes) else str(result)
            if verdict == "ok":
                found.append(_load(value))
            elif verdict == "unknown":
                found.append(UNKNOWN_DECISION)
            else:
                found.append(
                    f"the decision routed to {verdict.split(':', 1)[1]}, not the one named"
                )
        return found

    def add_spend(self, user: str, cost: float, now: datetime) -> tuple[float, float]:
        return self.add_spend_many({user: cost}, now)

    def add_spend_many(self, costs: Mapping[str, float], now: datetime) -> tuple[float, float]:
        p = self.prefix
        week, month, day = windows.week_key(now), windows.month_key(now), windows.day_key(now)
        total = sum(costs.values())
        pipe = self.redis.pipeline(transaction=True)
        for key, amount in ((f"{p}gspend:{day}", total), (f"{p}gspend:{week}", total)):
            pipe.incrbyfloat(key, amount)
            pipe.expire(key, PERIOD_TTL_S)
        for user, cost in costs.items():
            for key in (f"{p}spend:{user}:{week}", f"{p}spend:{user}:{month}"):
                pipe.incrbyfloat(key, cost)
                pipe.expire(key, PERIOD_TTL_S)
        values = pipe.execute()
        return float(values[0]), float(values[2])

    def global_spend(self, now: datetime) -> tuple[float, float]:
        day, week = self.redis.mget(self._keys("*", now)[3:5])
        return float(day or 0), float(week or 0)

    def global_rpm(self, now: datetime) -> float:
        previous, current = self.redis.mget(self._keys("*", now)[7:9])
        return windows.sliding_minute(int(previous or 0), int(current or 0), now.timestamp())

    def user_usage(self, user: str, now: datetime) -> tuple[int, float, float]:
        requests, week, month = self.redis.mget(self._keys(user, now)[0:3])
        return int(requests or 0), float(week or 0), float(month or 0)
