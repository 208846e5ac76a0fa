"""Liveness, readiness of every dependency, and a quick LLM round-trip."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.api.deps import StateDep
from services.api.state import AppState
from services.broker.celery_app import redis_queue_depths
from services.core.db import transaction
from services.core.health import (
    Check,
    check_chroma,
    check_database,
    check_llm,
    check_redis,
    timed,
)
from services.core.jobs.queues import ALL_QUEUES
from services.core.jobs.schemas import Backlog
from services.core.jobs.service import backlog
from services.core.llm.client import LLMError

log = logging.getLogger(__name__)

public = APIRouter(tags=["health"])
router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok"]


@public.get("/health")
def health() -> HealthOut:
    """The API process is up."""
    return HealthOut(status="ok")


def _check_worker(state: AppState) -> Check:
    def probe() -> tuple[str, str]:
        replies = state.celery.control.ping(timeout=1.0, limit=1)
        if not replies:
            return "down", "no Celery worker answered the ping"
        return "up", ", ".join(name for reply in replies for name in reply)

    return timed(probe)


class CheckOut(BaseModel):
    state: Literal["up", "down", "loading"]
    detail: str
    latency_ms: float
    ok: bool


class ReadyOut(BaseModel):
    ready: bool
    checks: dict[str, CheckOut] = Field(description="Per dependency: state, latency, detail")
    backlog: Backlog | None = Field(
        default=None,
        description="Jobs waiting per queue and the age of the oldest; null if the catalog "
        "did not answer. A backlog does not make the API unready.",
    )


def _backlog(state: AppState) -> Backlog | None:
    try:
        depths: dict[str, int] | None = redis_queue_depths(
            state.redis, [q.value for q in ALL_QUEUES]
        )
    except Exception:  # the redis check says why
        depths = None
    try:
        with transaction(state.sessions) as session:
            return backlog(session, depths)
    except Exception:  # the database check says why
        log.debug("no backlog: the catalog did not answer", exc_info=True)
        return None


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Some dependency is not up"}},
)
def ready(state: StateDep) -> JSONResponse:
    """Each dependency with its state (up, down, loading), and the backlog of every queue (jobs
    waiting, the oldest one's age, the broker's depth); 503 unless all dependencies are up."""
    s = state.settings
    probes = {
        "database": lambda: check_database(state.engine),
        "redis": lambda: check_redis(state.redis),
        "worker": lambda: _check_worker(state),
        "llm": lambda: check_llm(s.llm_base_url, s.openai_model, s.openai_api_key),
        "chroma": lambda: check_chroma(s.chroma_host, s.chroma_port),
    }
    with ThreadPoolExecutor(len(probes) + 1) as pool:
        futures = {name: pool.submit(probe) for name, probe in probes.items()}
        waiting = pool.submit(_backlog, state)
        checks = {name: future.result() for name, future in futures.items()}
        queued = waiting.result()
    ok = all(c.ok for c in checks.values())
    body: dict[str, Any] = {
        "ready": ok,
        "checks": {n: c.as_dict() for n, c in checks.items()},
        "backlog": queued.model_dump() if queued is not None else None,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


class LLMTest(BaseModel):
    prompt: str = Field(default="Reply with the single word: OK", min_length=1, max_length=2000)
    max_tokens: int = Field(default=16, ge=1, le=256)


class LLMTestOut(BaseModel):
    ok: bool
    detail: str | None = Field(default=None, description="Why the LLM did not answer")
    text: str | None = None
    latency_ms: float | None = None
    model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    duration_s: float | None = None
    time_to_first_token_s: float | None = None
    sampling: dict[str, Any] | None = None


@router.post(
    "/test-llm",
    response_model=LLMTestOut,
    responses={503: {"model": LLMTestOut, "description": "The LLM did not answer"}},
)
def test_llm(state: StateDep, body: LLMTest | None = None) -> JSONResponse:
    """Send one short prompt straight to the LLM and report the answer and its latency."""
    request = body or LLMTest()
    started = time.perf_counter()
    try:
        completion = state.llm.stream_chat(
            [{"role": "user", "content": request.prompt}],
            on_delta=lambda _: None,
            max_tokens=request.max_tokens,
            temperature=0.0,
        )
    except LLMError as exc:
        return JSONResponse({"ok": False, "detail": str(exc)}, status_code=503)
    return JSONResponse(
        {
            "ok": True,
            "text": completion.text,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            **completion.receipt(),
        }
    )
