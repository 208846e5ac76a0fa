"""A token bucket per client in Redis: how many jobs a client may submit per minute.

One Lua script takes a token atomically, so every API process behind a balancer shares the
same bucket; a bucket holds at most one minute's allowance, so a burst of that size is fine.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV: capacity, refill per second, now (s), ttl (s).
# Returns {allowed (0/1), seconds until the next token (string)}.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {allowed, tostring((1 - tokens) / rate)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int = 0


class JobRateLimiter:
    """`per_minute` submissions per client; 0 turns the limit off."""

    def __init__(
        self, client: redis.Redis, per_minute: int, prefix: str = "ratelimit:jobs"
    ) -> None:
        self.redis, self.per_minute, self.prefix = client, per_minute, prefix
        self._take = client.register_script(_TAKE)

    def take(self, client_id: str) -> Decision:
        if self.per_minute <= 0:
            return Decision(True)
        rate = self.per_minute / 60.0
        try:
            allowed, wait = self._take(
                keys=[f"{self.prefix}:{client_id}"], args=[self.per_minute, rate, time.time(), 120]
            )
        except redis.RedisError:
            # Without Redis no job can be queued anyway; the submission itself answers 503.
            log.warning("rate limiter unavailable (Redis); letting the request through")
            return Decision(True)
        if int(allowed):
            return Decision(True)
        return Decision(False, max(1, math.ceil(float(wait))))
