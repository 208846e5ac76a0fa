"""Live job events on a Redis stream per job: progress, text deltas and the final state.

A stream rather than pub/sub: a client that connects late (or reconnects with Last-Event-ID)
replays what it missed instead of losing the first deltas.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

log = logging.getLogger(__name__)

STREAM_MAXLEN = 20_000


def stream_key(job_id: str) -> str:
    return f"copiloto:job:{job_id}:events"


def encode_event(event: dict[str, Any]) -> dict[str, str]:
    return {"data": json.dumps(event, ensure_ascii=False, default=str)}


def decode_event(fields: dict[Any, Any]) -> dict[str, Any]:
    raw = fields.get(b"data", fields.get("data", "{}"))
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


class JobEventPublisher:
    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s

    def publish(self, job_id: str, event: dict[str, Any]) -> None:
        """Best effort: live events are a convenience, the job row is the truth. A job must not
        fail because Redis is restarting (SSE clients fall back to the row when it is quiet)."""
        key = stream_key(job_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(key, encode_event(event), maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        pipe.expire(key, self.ttl_s)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("event of job %s not published (Redis: %s)", job_id, exc)

    def final(self, job_id: str, snapshot: dict[str, Any]) -> None:
        self.publish(job_id, {"type": "final", **snapshot})
