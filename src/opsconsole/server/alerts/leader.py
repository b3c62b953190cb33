"""With several replicas, one of them evaluates the alert rules at a time.

Every replica would otherwise raise its own copy of each alert, send each webhook once per
replica and run each automation several times. The evaluating replica holds a Redis key with
a time to live and renews it every round; when it stops (or stalls past the time to live),
the next replica to ask takes over.
"""

from __future__ import annotations

import uuid
from typing import Any

# Renew the lease if it is ours, take it if it is free; 1 when we hold it afterwards.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLease:
    def __init__(self, client: Any, key: str, *, ttl_s: float) -> None:
        self.client = client
        self.key = key
        self.holder = uuid.uuid4().hex
        self.ttl_ms = int(ttl_s * 1000)
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """True when this replica is (still, or now) the one that evaluates."""
        return bool(self._hold(keys=[self.key], args=[self.holder, self.ttl_ms]))

    def release(self) -> None:
        """Give the lease up at shutdown, so another replica takes over at once."""
        self._release(keys=[self.key], args=[self.holder])
