"""Readiness probes for the parts the system depends on; each returns a state and a detail."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import redis
from sqlalchemy import text
from sqlalchemy.engine import Engine


@dataclass
class Check:
    state: str  # up | down | loading
    detail: str
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.state == "up"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def timed(probe: Callable[[], tuple[str, str]]) -> Check:
    started = time.perf_counter()
    try:
        state, detail = probe()
    except Exception as exc:
        state, detail = "down", f"{type(exc).__name__}: {exc}"
    return Check(state, detail, round((time.perf_counter() - started) * 1000, 1))


def check_database(engine: Engine) -> Check:
    def probe() -> tuple[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "up", engine.dialect.name

    return timed(probe)


def check_redis(client: redis.Redis) -> Check:
    return timed(lambda: ("up", "PONG") if client.ping() else ("down", "no PONG"))


def check_llm(base_url: str, model: str, api_key: str | None, timeout_s: float = 3.0) -> Check:
    def probe() -> tuple[str, str]:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        response = httpx.get(f"{base_url.rstrip('/')}/models", headers=headers, timeout=timeout_s)
        if response.status_code == 503:
            return "loading", "the LLM server is loading its model"
        response.raise_for_status()
        served = [m.get("id") for m in response.json().get("data", [])]
        if model not in served:
            return "down", f"model {model!r} not served (served: {', '.join(map(str, served))})"
        return "up", model

    return timed(probe)


def check_chroma(host: str | None, port: int, timeout_s: float = 2.0) -> Check:
    def probe() -> tuple[str, str]:
        if not host:
            return "up", "embedded store (CHROMA_HOST unset)"
        response = httpx.get(f"http://{host}:{port}/api/v2/heartbeat", timeout=timeout_s)
        response.raise_for_status()
        return "up", f"server {host}:{port}"

    return timed(probe)
