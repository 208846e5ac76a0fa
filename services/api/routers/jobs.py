"""Jobs: submit, inspect, list, cancel, and follow live events over SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from services.api.deps import JobId, JobSubmission, StateDep
from services.api.sse import format_event
from services.core.db import transaction
from services.core.ids import ID_PATTERN
from services.core.jobs import service
from services.core.jobs.events import decode_event, stream_key
from services.core.jobs.schemas import TERMINAL_STATUSES, JobCreate, JobOut, JobPage, JobStatus

router = APIRouter(tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request with the same key to get the same job back",
    ),
]


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobOut,
    dependencies=[JobSubmission],
    responses={
        200: {
            "model": JobOut,
            "description": "An earlier job with the same Idempotency-Key, or the pending job "
            "of the same chapter or book that covers the request",
        }
    },
)
def create_job(body: JobCreate, state: StateDep, idempotency_key: IdempotencyKey = None) -> Any:
    """Submit a job; answers 202 with the queued job, 200 with an existing one (a repeated key,
    or coalescing: e.g. the chapter's indexing already queued, which will index its latest text)."""
    snapshot, created = state.jobs.submit(body, idempotency_key)
    return JSONResponse(snapshot, status_code=202 if created else 200)


@router.get("/jobs/{job_id}")
def get_job(job_id: JobId, state: StateDep) -> JobOut:
    """A job's status, progress, message, result, error and timings."""
    with transaction(state.sessions) as session:
        return JobOut.model_validate(service.job_snapshot(service.get_job(session, job_id)))


@router.get("/jobs")
def list_jobs(
    state: StateDep,
    book_id: str | None = Query(None, pattern=ID_PATTERN, max_length=64),
    status: JobStatus | None = None,
    kind: str | None = Query(None, max_length=32),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> JobPage:
    """Jobs, newest first, filtered by book, status and kind."""
    with transaction(state.sessions) as session:
        jobs, total = service.list_jobs(
            session, book_id=book_id, status=status, kind=kind, limit=limit, offset=offset
        )
        items = [JobOut.model_validate(service.job_snapshot(j)) for j in jobs]
    return JobPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: JobId, state: StateDep) -> JobOut:
    """Cancel a queued or running job (409 if it already ended)."""
    snapshot = service.cancel_and_send(state.jobs, job_id)
    state.publisher.final(job_id, snapshot)
    return JobOut.model_validate(snapshot)


@router.get("/jobs/{job_id}/events")
async def job_events(
    job_id: JobId,
    request: Request,
    state: StateDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> StreamingResponse:
    """Server-sent events: `status` first, then `progress`, `delta`, `reset`, and a last `final`."""

    def snapshot() -> dict[str, Any]:
        with transaction(state.sessions) as session:
            return service.job_snapshot(service.get_job(session, job_id))

    first = await run_in_threadpool(snapshot)
    key = stream_key(job_id)

    async def events() -> AsyncIterator[str]:
        yield format_event("status", first)
        cursor = last_event_id or "0-0"
        already_over = first["status"] in TERMINAL_STATUSES
        while True:
            batch = await state.aredis.xread(
                {key: cursor}, count=256, block=None if already_over else 15_000
            )
            entries = batch[0][1] if batch else []
            for entry_id, fields in entries:
                cursor = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                event = decode_event(fields)
                kind = str(event.pop("type", "message"))
                if kind == "final":
                    yield format_event("final", event, cursor)
                    return
                yield format_event(kind, event, cursor)
            if already_over and not entries:
                # Replayed all there was, and the stream expired or never got its final
                # event: the catalog row answers.
                yield format_event("final", first)
                return
            if not entries:
                if await request.is_disconnected():
                    return
                # Quiet for a while: the row tells whether the job ended without a final event.
                latest = await run_in_threadpool(snapshot)
                if latest["status"] in TERMINAL_STATUSES:
                    first.update(latest)
                    already_over = True
                    continue
                yield ": keep-alive\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
